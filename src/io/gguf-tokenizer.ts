// A Hugging Face byte-level BPE tokenizer as GGUF's tokenizer keys (llama.cpp's "gpt2" tokenizer
// model: convert_hf_to_gguf.py's _set_vocab_gpt2 and gguf-py's SpecialVocab). llama.cpp does not run
// tokenizer.json: it has a fixed pre-tokenizer per `tokenizer.ggml.pre` name (llama-vocab.cpp), so the
// export names one only when tokenizer.json's pre-tokenizer is exactly that one, and refuses, with
// the reason, any tokenizer llama.cpp would split differently (WordPiece, Unigram, SentencePiece-style
// BPE, another regex, a normalizer other than NFC). Never a GGUF that tokenizes differently.
import { parseChatTemplates } from './chat-template.js';
import type { GgufKv } from './gguf-write.js';
import { InputFileError } from './input-error.js';
import { isJsonObject, type JsonObject } from './json-fields.js';
import { tokenizerFromJson, type TokenizerFiles } from './tokenizer.js';

/** tokenizer.json's Split regexes (the originals llama-vocab.cpp adapts) for the pre names they select. */
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp's pre-tokenizers that lorapro can name, and whether llama.cpp ignores merges for whole-word vocabulary hits. */
interface PreTokenizer {
  readonly name: 'gpt-2' | 'smollm' | 'llama-bpe' | 'qwen2';
  readonly ignoreMerges: boolean;
}

/** GGUF's token types (gguf-py TokenType). */
const NORMAL = 1;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;

function fail(source: string, reason: string): never {
  throw new InputFileError(source, `${source}: this tokenizer cannot be exported to GGUF: ${reason}. lorapro exports byte-level BPE tokenizers (GPT-2, Llama 3, Qwen2, SmolLM and the shipped base's) that llama.cpp splits exactly as tokenizer.json does`);
}

const flatten = (p: unknown): JsonObject[] =>
  !isJsonObject(p) ? [] : p.type === 'Sequence' && Array.isArray(p.pretokenizers) ? p.pretokenizers.flatMap(flatten) : [p];

function isByteLevel(p: JsonObject, useRegex: boolean): boolean {
  return p.type === 'ByteLevel' && (p.use_regex ?? true) === useRegex && p.add_prefix_space !== true;
}

function splitRegex(p: JsonObject): string | undefined {
  const pattern = p.pattern;
  if (p.type !== 'Split' || p.invert === true || p.behavior !== 'Isolated' || !isJsonObject(pattern)) return undefined;
  return typeof pattern.Regex === 'string' ? pattern.Regex : undefined;
}

/** The llama.cpp pre-tokenizer that splits text exactly as `preTokenizer` does, else the refusal. */
function matchPreTokenizer(preTokenizer: unknown, source: string): PreTokenizer {
  const steps = flatten(preTokenizer);
  if (steps.length === 1 && isByteLevel(steps[0], true)) return { name: 'gpt-2', ignoreMerges: false };
  if (steps.length === 2 && steps[0].type === 'Digits' && steps[0].individual_digits === true && isByteLevel(steps[1], true)) return { name: 'smollm', ignoreMerges: false };
  if (steps.length === 2 && isByteLevel(steps[1], false)) {
    const regex = splitRegex(steps[0]);
    if (regex === LLAMA3_REGEX) return { name: 'llama-bpe', ignoreMerges: true };
    if (regex === QWEN2_REGEX) return { name: 'qwen2', ignoreMerges: false };
  }
  const shown = JSON.stringify(preTokenizer);
  fail(source, `its pre_tokenizer ${shown.length > 200 ? `${shown.slice(0, 197)}...` : shown} is none of llama.cpp's byte-level ones lorapro maps (GPT-2's ByteLevel regex, SmolLM's digits + ByteLevel, Llama 3's or Qwen2's Split regex + ByteLevel)`);
}

function mergeStrings(merges: unknown, source: string): string[] {
  if (!Array.isArray(merges)) fail(source, `model.merges must be a list, got ${typeof merges}`);
  return merges.map((m, i) => {
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return `${m[0]} ${m[1]}`;
    fail(source, `model.merges[${i}] is neither "a b" nor ["a", "b"]`);
  });
}

export interface GgufTokenizerInfo {
  readonly kvs: GgufKv[];
  /** tokenizer.ggml.pre, for messages. */
  readonly pre: string;
  readonly tokenCount: number;
}

/**
 * GGUF's tokenizer.* keys for a byte-level BPE tokenizer, padded to `vocabSize` (the model's
 * embedding rows) with "[PADn]" tokens as convert_hf_to_gguf.py does. Refuses, naming tokenizer.json
 * and the reason, any tokenizer llama.cpp would not tokenize identically.
 *
 * @example
 *   const { kvs } = ggufTokenizer(files, 'models/lorapro-base', 257);
 */
export function ggufTokenizer(files: TokenizerFiles, dir: string, vocabSize: number): GgufTokenizerInfo {
  const source = `${dir}/tokenizer.json`;
  if (!isJsonObject(files.tokenizerJson) || !isJsonObject(files.tokenizerJson.model)) fail(source, 'it has no "model" object');
  const json = files.tokenizerJson;
  const model = json.model as JsonObject;
  if (model.type !== 'BPE') fail(source, `its model is ${JSON.stringify(model.type)}, not byte-level BPE (llama.cpp's WordPiece and Unigram tokenizers are not exported)`);
  if (model.byte_fallback === true) fail(source, 'it is SentencePiece-style BPE (byte_fallback), which llama.cpp runs as its "llama" tokenizer from tokenizer.model, not as byte-level BPE');
  if (model.dropout !== undefined && model.dropout !== null) fail(source, 'BPE dropout is set');
  if (model.continuing_subword_prefix || model.end_of_word_suffix) fail(source, 'its BPE uses a continuing_subword_prefix or end_of_word_suffix');
  const normalizer = json.normalizer;
  if (normalizer !== undefined && normalizer !== null && !(isJsonObject(normalizer) && normalizer.type === 'NFC')) fail(source, `its normalizer ${JSON.stringify(normalizer)} is not applied by llama.cpp`);
  const pre = matchPreTokenizer(json.pre_tokenizer, source);
  if ((model.ignore_merges === true) !== pre.ignoreMerges) fail(source, `model.ignore_merges is ${model.ignore_merges === true}, but llama.cpp's "${pre.name}" pre-tokenizer runs with ignore_merges ${pre.ignoreMerges}`);
  const decoder = json.decoder;
  const decoders = isJsonObject(decoder) && decoder.type === 'Sequence' && Array.isArray(decoder.decoders) ? decoder.decoders : [decoder];
  if (!decoders.some((d) => isJsonObject(d) && d.type === 'ByteLevel')) fail(source, 'its decoder is not ByteLevel');

  const tokens: (string | undefined)[] = [];
  const types: number[] = [];
  if (!isJsonObject(model.vocab)) fail(source, 'model.vocab must be an object of token → id');
  for (const [token, id] of Object.entries(model.vocab as JsonObject)) {
    if (!Number.isInteger(id) || (id as number) < 0) fail(source, `model.vocab[${JSON.stringify(token)}] is not a token id`);
    tokens[id as number] = token;
    types[id as number] = NORMAL;
  }
  for (const t of (Array.isArray(json.added_tokens) ? json.added_tokens : []) as JsonObject[]) {
    if (typeof t?.content !== 'string' || !Number.isInteger(t.id)) fail(source, `added token ${JSON.stringify(t)} has no content or id`);
    tokens[t.id as number] = t.content as string;
    types[t.id as number] = t.special === true ? CONTROL : USER_DEFINED;
  }
  if (tokens.length > vocabSize) fail(source, `it has ${tokens.length} token ids, more than the model's ${vocabSize} embedding rows`);
  for (let i = 0; i < vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = UNUSED;
    }
  }

  const tok = tokenizerFromJson(files, dir);
  const kvs: GgufKv[] = [
    { key: 'tokenizer.ggml.model', type: 'string', value: 'gpt2' },
    { key: 'tokenizer.ggml.pre', type: 'string', value: pre.name },
    { key: 'tokenizer.ggml.tokens', type: 'array', of: 'string', value: tokens as string[] },
    { key: 'tokenizer.ggml.token_type', type: 'array', of: 'i32', value: types },
    { key: 'tokenizer.ggml.merges', type: 'array', of: 'string', value: mergeStrings(model.merges ?? [], source) },
  ];
  const id = (key: string, value: number | undefined): void => {
    if (value !== undefined) kvs.push({ key: `tokenizer.ggml.${key}`, type: 'u32', value });
  };
  id('bos_token_id', tok.bosTokenId);
  id('eos_token_id', tok.eosTokenId);
  id('unknown_token_id', tok.unkTokenId);
  id('padding_token_id', tok.padTokenIsEos ? undefined : tok.padTokenId);
  const { addBos, addEos } = specialsAdded(tok, source);
  kvs.push({ key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: addBos });
  kvs.push({ key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: addEos });
  const configSource = files.chatTemplate !== undefined ? `${dir}/chat_template.jinja` : `${dir}/tokenizer_config.json`;
  const templates = files.chatTemplate !== undefined ? { default: files.chatTemplate } : parseChatTemplates(isJsonObject(files.tokenizerConfig) ? files.tokenizerConfig.chat_template : undefined, configSource);
  for (const [name, template] of Object.entries(templates)) {
    kvs.push({ key: name === 'default' ? 'tokenizer.chat_template' : `tokenizer.chat_template.${name}`, type: 'string', value: template });
  }
  return { kvs, pre: pre.name, tokenCount: vocabSize };
}

/** Whether encoding adds bos before and eos after a text; any other addition cannot be said in GGUF. */
function specialsAdded(tok: ReturnType<typeof tokenizerFromJson>, source: string): { addBos: boolean; addEos: boolean } {
  const plain = tok.encode('a', { addSpecialTokens: false });
  const full = tok.encode('a');
  const addBos = full.length > plain.length && tok.bosTokenId !== undefined && full[0] === tok.bosTokenId;
  const rest = full.slice(addBos ? 1 : 0);
  const addEos = rest.length > plain.length && tok.eosTokenId !== undefined && rest[rest.length - 1] === tok.eosTokenId;
  const body = rest.slice(0, addEos ? -1 : undefined);
  if (body.length !== plain.length || body.some((t, i) => t !== plain[i])) fail(source, `its post-processor adds tokens other than a leading bos and a trailing eos ("a" encodes as [${full.join(', ')}])`);
  return { addBos, addEos };
}

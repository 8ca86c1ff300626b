// Helpers for tests (not part of the public API): small byte-level BPE tokenizer.json files in the
// shapes of real ones (GPT-2's, Llama 3's, Qwen2's, SmolLM's pre-tokenizers), with merges learned
// from a text, so GGUF export can be checked against llama.cpp without downloading a tokenizer.
import { bytesToUnicode } from './byte-tokenizer.js';

export type BpeStyle = 'gpt-2' | 'llama-bpe' | 'qwen2' | 'smollm';

const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });

/** `count` BPE merges of the byte-level forms of `text`'s words, most frequent pair first. */
export function learnMerges(text: string, count: number): [string, string][] {
  const alphabet = bytesToUnicode();
  const words = (text.match(/ ?\p{L}+| ?\p{N}| ?[^\s\p{L}\p{N}]+|\s+/gu) ?? []).map((w) => [...new TextEncoder().encode(w)].map((b) => alphabet[b]));
  const merges: [string, string][] = [];
  for (let m = 0; m < count; m++) {
    const counts = new Map<string, number>();
    for (const w of words) for (let i = 0; i + 1 < w.length; i++) counts.set(`${w[i]}\u0000${w[i + 1]}`, (counts.get(`${w[i]}\u0000${w[i + 1]}`) ?? 0) + 1);
    let best: string | undefined;
    for (const [pair, n] of counts) if (best === undefined || n > counts.get(best)!) best = pair;
    if (best === undefined) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) w.splice(i, 2, a + b);
    }
  }
  return merges;
}

export interface BpeFiles {
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  /** Every id, the added tokens included. */
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly eosTokenId: number;
}

/**
 * tokenizer.json / tokenizer_config.json of a byte-level BPE tokenizer in `style`: ids 0–255 the
 * bytes, then one token per merge, then the special tokens (Llama 3's adds its bos before every text).
 */
export function bpeTokenizer(style: BpeStyle, trainingText: string, mergeCount = 60): BpeFiles {
  const alphabet = bytesToUnicode();
  const vocab: Record<string, number> = {};
  alphabet.forEach((ch, b) => (vocab[ch] = b));
  const merges = learnMerges(trainingText, mergeCount);
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  const specials = style === 'llama-bpe' ? ['<|begin_of_text|>', '<|end_of_text|>'] : ['<|endoftext|>'];
  const first = Object.keys(vocab).length;
  const added = specials.map((content, i) => ({ id: first + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const preTokenizer = {
    'gpt-2': byteLevel(true),
    smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(true)] },
    'llama-bpe': { type: 'Sequence', pretokenizers: [split(LLAMA3_REGEX), byteLevel(false)] },
    qwen2: { type: 'Sequence', pretokenizers: [split(QWEN2_REGEX), byteLevel(false)] },
  }[style];
  const bos = style === 'llama-bpe' ? first : undefined;
  const eos = style === 'llama-bpe' ? first + 1 : first;
  const postProcessor = style === 'llama-bpe'
    ? { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [first], tokens: ['<|begin_of_text|>'] } } }
    : byteLevel(true);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: style === 'qwen2' ? { type: 'NFC' } : null,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor,
    decoder: byteLevel(true),
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: style === 'llama-bpe', vocab, merges },
  };
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    eos_token: specials[specials.length - 1],
    model_max_length: 1024,
    clean_up_tokenization_spaces: false,
    chat_template: "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] }}{% endfor %}",
  };
  if (bos !== undefined) tokenizerConfig.bos_token = specials[0];
  return { tokenizerJson, tokenizerConfig, vocabSize: first + specials.length, bosTokenId: bos, eosTokenId: eos };
}

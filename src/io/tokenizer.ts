// Hugging Face tokenizers (tokenizer.json + tokenizer_config.json) on @huggingface/tokenizers, with
// what fine-tuning needs on top: ids of the special tokens, a pad token (eos when there is none),
// batches that are truncated, padded and masked, and chat templates.
//
// We ask the library only for the model's tokens of each text (no special tokens) and add the special
// tokens ourselves from the post-processor, so that truncation can leave room for them and pairs work
// for every post-processor (the library's ByteLevel post-processor drops the second text of a pair).
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { FileSet } from './file-set.js';
import { InputFileError } from './input-error.js';
import { asJsonObject, describeValue, isJsonObject, JsonFields, type JsonObject } from './json-fields.js';
import { ChatTemplate, parseChatTemplates, type ChatMessage } from './chat-template.js';
import {
  additionalSpecialTokens,
  resolveSpecialTokens,
  tokenizerClassName,
  type SpecialTokenSource,
  type SpecialTokenStrings,
} from './tokenizer-special.js';
import { padBatch, roundUpToMultiple, truncateOne, truncatePair, type EncodedRow, type PaddedBatch, type Side } from './tokenizer-batch.js';

/** The files of a tokenizer folder, already parsed; everything but tokenizer.json is optional. */
export interface TokenizerFiles {
  readonly tokenizerJson: unknown; // tokenizer.json
  readonly tokenizerConfig?: unknown; // tokenizer_config.json
  readonly specialTokensMap?: unknown; // special_tokens_map.json
  readonly chatTemplate?: string; // chat_template.jinja, which takes precedence over tokenizer_config's
  readonly modelType?: string; // config.json model_type, to pick class defaults when tokenizer_class is absent
}

export interface EncodeBatchOptions {
  /** Truncation and `'max_length'` padding length; defaults to tokenizer_config's model_max_length. */
  maxLength?: number;
  /** `'longest'` (default): pad to the longest row; `'max_length'`: to maxLength; false: ragged rows. */
  padding?: 'longest' | 'max_length' | false;
  /** Defaults to true when maxLength is given. Pairs are cut longest-first. */
  truncation?: boolean;
  addSpecialTokens?: boolean;
  /** Rounds the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/** How special tokens are added around the model's tokens. */
type SpecialsRule =
  | { kind: 'none' } // e.g. GPT-2: a pair is just the two texts' tokens
  | { kind: 'post-processor' } // TemplateProcessing / BertProcessing / RobertaProcessing from tokenizer.json
  | { kind: 'bos-eos'; bos?: string; eos?: string }; // add_bos_token / add_eos_token, as LlamaTokenizerFast does

/** Post-processors that add special tokens; the others (ByteLevel) only touch offsets. */
const ADDING_POST_PROCESSORS = new Set(['TemplateProcessing', 'BertProcessing', 'RobertaProcessing']);
/** Fast tokenizer classes that ignore add_bos_token / add_eos_token. */
const IGNORES_BOS_EOS_FLAGS = new Set(['GPT2Tokenizer', 'Qwen2Tokenizer']);
/** transformers writes model_max_length = int(1e30) when a tokenizer has no limit. */
const NO_MAX_LENGTH = 1e15;

function addsSpecialTokens(postProcessor: unknown): boolean {
  if (!isJsonObject(postProcessor)) return false;
  if (postProcessor.type === 'Sequence' && Array.isArray(postProcessor.processors)) {
    return postProcessor.processors.some(addsSpecialTokens);
  }
  return ADDING_POST_PROCESSORS.has(postProcessor.type as string);
}

function optionalObject(value: unknown, source: string, what: string): JsonObject {
  return value === undefined || value === null ? {} : asJsonObject(value, source, what);
}

/** tokenizer.json as the library wants it: every component key present, added_tokens a list. */
function normalizeTokenizerJson(json: unknown, source: string): JsonObject {
  const obj = asJsonObject(json, source, 'tokenizer.json');
  if (!isJsonObject(obj.model)) throw new InputFileError(source, `${source}: "model" must be a JSON object, got ${describeValue(obj.model)}`);
  const out: JsonObject = { ...obj, added_tokens: obj.added_tokens ?? [] };
  if (!Array.isArray(out.added_tokens)) throw new InputFileError(source, `${source}: "added_tokens" must be a list, got ${describeValue(obj.added_tokens)}`);
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) out[key] = obj[key] ?? null;
  return out;
}

/** Every token string of tokenizer.json: the model's vocabulary and the added tokens. */
function vocabTokens(tokenizerJson: JsonObject): Set<string> {
  const vocab = (tokenizerJson.model as JsonObject).vocab;
  const out = new Set<string>();
  if (Array.isArray(vocab)) {
    for (const entry of vocab) if (Array.isArray(entry) && typeof entry[0] === 'string') out.add(entry[0]); // Unigram: [token, score]
  } else if (isJsonObject(vocab)) {
    for (const token of Object.keys(vocab)) out.add(token);
  }
  for (const t of tokenizerJson.added_tokens as Array<{ content?: unknown }>) if (typeof t?.content === 'string') out.add(t.content);
  return out;
}

/** The library's tokenizer, given special tokens as plain strings (it cannot read AddedToken objects). */
function buildLibraryTokenizer(
  tokenizerJson: JsonObject,
  config: JsonObject,
  specials: SpecialTokenStrings,
  additional: string[],
  jsonPath: string,
): HfTokenizer {
  const modelUnk = (tokenizerJson.model as JsonObject).unk_token;
  const libConfig: JsonObject = {
    ...config,
    bos_token: specials.bos,
    eos_token: specials.eos,
    pad_token: specials.pad,
    // WordLevel (the library's "Legacy" model) takes its unk token from here, not from the model.
    unk_token: specials.unk ?? (typeof modelUnk === 'string' ? modelUnk : undefined),
    additional_special_tokens: additional,
    // Off unless tokenizer_config.json asks: the clean-up turns "a ." into "a." and breaks decode(encode(x)) === x.
    clean_up_tokenization_spaces: config.clean_up_tokenization_spaces ?? false,
    chat_template: undefined,
  };
  try {
    return new HfTokenizer(tokenizerJson, libConfig);
  } catch (err) {
    throw new InputFileError(jsonPath, `${jsonPath}: cannot build the tokenizer: ${(err as Error).message}`);
  }
}

/**
 * A Hugging Face tokenizer with fine-tuning conveniences. Build one with `loadTokenizer(dir)`, or
 * `tokenizerFromJson(files, dir)` where there is no file system.
 *
 * @example
 *   const tok = await loadTokenizer('models/gpt2');
 *   const { inputIds, attentionMask } = tok.encodeBatch(['hello', 'hello world'], { maxLength: 128 });
 */
export class Tokenizer {
  /** Number of ids: the largest id in the vocabulary (added tokens included) plus one. */
  readonly vocabSize: number;
  readonly padTokenId: number | undefined;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number;
  readonly unkTokenId?: number;
  /** True when the tokenizer has no pad token and eos stands in for it. */
  readonly padTokenIsEos: boolean;
  readonly paddingSide: Side;
  readonly truncationSide: Side;
  /** tokenizer_config's model_max_length, or undefined when it is unlimited. */
  readonly modelMaxLength: number | undefined;
  readonly specialTokens: Readonly<SpecialTokenStrings>;
  readonly hasChatTemplate: boolean;

  private readonly hf: HfTokenizer;
  private readonly rule: SpecialsRule;
  private readonly specialIds: ReadonlySet<number>;
  private readonly chatTemplates: Readonly<Record<string, string>>;
  private readonly compiledTemplates = new Map<string, ChatTemplate>();

  /** @param dir the folder the files came from, named in errors */
  constructor(files: TokenizerFiles, readonly dir: string) {
    const jsonPath = `${dir}/tokenizer.json`;
    const configPath = `${dir}/tokenizer_config.json`;
    const config = optionalObject(files.tokenizerConfig, configPath, 'tokenizer_config.json');
    const sources: SpecialTokenSource[] = [{ obj: config, source: configPath }];
    if (files.specialTokensMap !== undefined) {
      const mapPath = `${dir}/special_tokens_map.json`;
      sources.push({ obj: optionalObject(files.specialTokensMap, mapPath, 'special_tokens_map.json'), source: mapPath });
    }
    const tokenizerJson = normalizeTokenizerJson(files.tokenizerJson, jsonPath);
    const className = tokenizerClassName(config.tokenizer_class, files.modelType);
    const vocab = vocabTokens(tokenizerJson);
    const specials = resolveSpecialTokens(sources, className, (t) => vocab.has(t));
    this.specialTokens = Object.freeze(specials);
    this.hf = buildLibraryTokenizer(tokenizerJson, config, specials, additionalSpecialTokens(sources), jsonPath);

    let maxId = -1;
    for (const id of this.hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const idOf = (role: keyof SpecialTokenStrings): number | undefined => {
      const token = specials[role];
      if (token === undefined) return undefined;
      const id = this.hf.token_to_id(token);
      if (id === undefined) throw new InputFileError(configPath, `${configPath}: ${role}_token ${describeValue(token)} is not in the vocabulary of ${jsonPath}`);
      return id;
    };
    this.bosTokenId = idOf('bos');
    this.eosTokenId = idOf('eos');
    this.unkTokenId = idOf('unk');
    const padId = idOf('pad');
    this.padTokenIsEos = padId === undefined && this.eosTokenId !== undefined;
    this.padTokenId = padId ?? this.eosTokenId;
    this.specialIds = this.collectSpecialIds(specials);

    const f = new JsonFields(config, configPath);
    this.paddingSide = this.side(f, 'padding_side');
    this.truncationSide = this.side(f, 'truncation_side');
    const maxLength = f.has('model_max_length') ? f.positiveNumber('model_max_length') : undefined;
    this.modelMaxLength = maxLength !== undefined && maxLength < NO_MAX_LENGTH ? Math.floor(maxLength) : undefined;
    this.rule = this.specialsRule(f, className, tokenizerJson.post_processor, specials);

    const templates = files.chatTemplate !== undefined ? { default: files.chatTemplate } : parseChatTemplates(config.chat_template, configPath);
    this.chatTemplates = Object.freeze(templates);
    this.hasChatTemplate = templates.default !== undefined;
    Object.freeze(this);
  }

  private side(f: JsonFields, key: string): Side {
    const value = f.string(key, 'right');
    if (value !== 'left' && value !== 'right') f.fail(key, '"left" or "right"', value);
    return value;
  }

  private specialsRule(f: JsonFields, className: string | undefined, postProcessor: unknown, specials: SpecialTokenStrings): SpecialsRule {
    const flagged = f.has('add_bos_token') || f.has('add_eos_token');
    if (flagged && !IGNORES_BOS_EOS_FLAGS.has(className ?? '')) {
      const addBos = f.boolean('add_bos_token', false);
      const addEos = f.boolean('add_eos_token', false);
      if (addBos && specials.bos === undefined) f.fail('add_bos_token', 'false when there is no bos_token', true);
      if (addEos && specials.eos === undefined) f.fail('add_eos_token', 'false when there is no eos_token', true);
      return { kind: 'bos-eos', bos: addBos ? specials.bos : undefined, eos: addEos ? specials.eos : undefined };
    }
    return addsSpecialTokens(postProcessor) ? { kind: 'post-processor' } : { kind: 'none' };
  }

  private collectSpecialIds(specials: SpecialTokenStrings): Set<number> {
    const ids = new Set<number>();
    for (const [id, token] of this.hf.get_added_tokens_decoder()) if (token.special) ids.add(id);
    for (const token of Object.values(specials)) {
      const id = this.hf.token_to_id(token);
      if (id !== undefined) ids.add(id);
    }
    return ids;
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  /** The model's tokens for one text, without special tokens. */
  private pieces(text: string): string[] {
    if (typeof text !== 'string') throw new Error(`Tokenizer(${this.dir}): text must be a string, got ${describeValue(text)}`);
    return this.hf.tokenize(text, { add_special_tokens: false });
  }

  /** Tokens and token type ids of `a` (and `b`) with the special tokens the rule adds. */
  private withSpecials(a: string[], b: string[] | undefined, add: boolean): { tokens: string[]; typeIds: number[] } {
    const types = (tokens: string[], type: number): number[] => new Array<number>(tokens.length).fill(type);
    if (add && this.rule.kind === 'post-processor') {
      const out = this.hf.post_processor!.post_process(a, b ?? null, true);
      return { tokens: out.tokens, typeIds: out.token_type_ids ?? types(out.tokens, 0) };
    }
    const { bos, eos } = add && this.rule.kind === 'bos-eos' ? this.rule : { bos: undefined, eos: undefined };
    const wrap = (tokens: string[]): string[] => [...(bos ? [bos] : []), ...tokens, ...(eos ? [eos] : [])];
    const first = wrap(a);
    const second = b === undefined ? [] : wrap(b);
    return { tokens: [...first, ...second], typeIds: [...types(first, 0), ...types(second, 1)] };
  }

  private toIds(tokens: string[]): number[] {
    return tokens.map((t) => {
      const id = this.hf.token_to_id(t) ?? this.unkTokenId;
      if (id === undefined) throw new Error(`Tokenizer(${this.dir}): token ${describeValue(t)} has no id and there is no unk token`);
      return id;
    });
  }

  /** One row, cut to `maxLength` tokens (special tokens included) when given. */
  private encodeRow(text: string, pair: string | undefined, add: boolean, maxLength?: number): EncodedRow {
    let a = this.pieces(text);
    let b = pair === undefined ? undefined : this.pieces(pair);
    if (maxLength !== undefined) {
      const reserved = this.withSpecials([], b && [], add).tokens.length;
      const budget = maxLength - reserved;
      if (budget < 0) throw new Error(`Tokenizer(${this.dir}): maxLength ${maxLength} leaves no room after ${reserved} special tokens`);
      if (b === undefined) a = truncateOne(a, budget, this.truncationSide);
      else [a, b] = truncatePair(a, b, budget, this.truncationSide);
    }
    const { tokens, typeIds } = this.withSpecials(a, b, add);
    return { ids: this.toIds(tokens), typeIds };
  }

  /** Token ids of `text` (and `textPair`), with special tokens unless `addSpecialTokens` is false. */
  encode(text: string, opts: { addSpecialTokens?: boolean; textPair?: string } = {}): number[] {
    return this.encodeRow(text, opts.textPair, opts.addSpecialTokens ?? true).ids;
  }

  /** Like `encode`, with the token type ids BERT-style models take (0 for `text`, 1 for `textPair`). */
  encodeWithTypes(text: string, opts: { addSpecialTokens?: boolean; textPair?: string } = {}): { ids: number[]; tokenTypeIds: number[] } {
    const row = this.encodeRow(text, opts.textPair, opts.addSpecialTokens ?? true);
    return { ids: row.ids, tokenTypeIds: row.typeIds };
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (!Array.isArray(ids)) throw new Error(`Tokenizer.decode: ids must be a list, got ${describeValue(ids)}`);
    ids.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`Tokenizer.decode: ids[${i}] must be an integer in [0, ${this.vocabSize}), got ${describeValue(id)}`);
      }
    });
    const kept = opts.skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : ids.slice();
    return kept.length === 0 ? '' : this.hf.decode(kept, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /**
   * Encodes a batch into rectangular rows, padded on `paddingSide` with the pad token (eos when there
   * is none), with attention masks and, for pairs, token type ids.
   */
  encodeBatch(texts: readonly string[] | ReadonlyArray<readonly [string, string]>, opts: EncodeBatchOptions = {}): PaddedBatch {
    const padding = opts.padding ?? 'longest';
    const truncation = opts.truncation ?? opts.maxLength !== undefined;
    const maxLength = this.checkLength('maxLength', opts.maxLength) ?? this.modelMaxLength;
    const multiple = this.checkLength('padToMultipleOf', opts.padToMultipleOf);
    if (truncation && maxLength === undefined) throw new Error(`Tokenizer(${this.dir}): truncation needs maxLength (tokenizer_config has no model_max_length)`);
    if (padding === 'max_length' && maxLength === undefined) throw new Error(`Tokenizer(${this.dir}): padding "max_length" needs maxLength (tokenizer_config has no model_max_length)`);
    if (padding !== false && this.padTokenId === undefined) {
      throw new Error(`Tokenizer(${this.dir}): padding needs a pad token, and the tokenizer has neither pad_token nor eos_token`);
    }
    const rows = texts.map((t) => {
      const [text, pair] = typeof t === 'string' ? [t, undefined] : t;
      return this.encodeRow(text, pair, opts.addSpecialTokens ?? true, truncation ? maxLength : undefined);
    });
    if (padding === false) return padBatch(rows, undefined, this.padTokenId, this.paddingSide);
    const longest = Math.max(0, ...rows.map((r) => r.ids.length));
    if (padding === 'max_length' && longest > maxLength!) {
      const i = rows.findIndex((r) => r.ids.length > maxLength!);
      throw new Error(`Tokenizer(${this.dir}): row ${i} has ${rows[i].ids.length} tokens, more than maxLength ${maxLength}; pass truncation: true`);
    }
    const target = roundUpToMultiple(padding === 'max_length' ? maxLength! : longest, multiple);
    return padBatch(rows, target, this.padTokenId, this.paddingSide);
  }

  private checkLength(name: string, value: number | undefined): number | undefined {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new Error(`Tokenizer.encodeBatch: ${name} must be a positive integer, got ${describeValue(value)}`);
    }
    return value;
  }

  /**
   * Renders a conversation with the folder's chat template, as transformers' apply_chat_template
   * with tokenize=False. Encode the result with `addSpecialTokens: false`: templates write bos themselves.
   *
   * @example
   *   tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    opts: { addGenerationPrompt?: boolean; tokenize?: false; templateName?: string } = {},
  ): string {
    const name = opts.templateName ?? 'default';
    const text = this.chatTemplates[name];
    if (text === undefined) {
      const names = Object.keys(this.chatTemplates);
      const have = names.length ? `; it has ${names.map((n) => `"${n}"`).join(', ')}` : '';
      // the model folder lacks it: the user's to fix (another model, or a template), not a failure of the run
      throw new InputFileError(`${this.dir}/tokenizer_config.json`, `Tokenizer(${this.dir}): no chat template "${name}" in tokenizer_config.json or chat_template.jinja${have}`);
    }
    let template = this.compiledTemplates.get(name);
    if (!template) {
      template = new ChatTemplate(text, `${this.dir}/tokenizer_config.json chat_template "${name}"`);
      this.compiledTemplates.set(name, template);
    }
    const context: Record<string, unknown> = {};
    for (const [role, token] of Object.entries(this.specialTokens)) context[`${role}_token`] = token;
    return template.render(messages, opts.addGenerationPrompt ?? false, context);
  }
}

/** A tokenizer from already-parsed files (browser, tests); `dir` is only named in errors. */
export function tokenizerFromJson(files: TokenizerFiles, dir = '<memory>'): Tokenizer {
  return new Tokenizer(files, dir);
}

/** A tokenizer folder held in memory (dropped or fetched files), read as loadTokenizer reads a folder. */
export function tokenizerFromFiles(files: FileSet): Tokenizer {
  const tokenizerJson = files.json('tokenizer.json');
  if (tokenizerJson === undefined) throw new InputFileError(files.path('tokenizer.json'), `${files.path('tokenizer.json')} not found (a model folder needs the tokenizer it was trained with)`);
  let modelConfig: unknown;
  try {
    modelConfig = files.json('config.json'); // only model_type is wanted
  } catch {
    modelConfig = undefined;
  }
  const modelType = isJsonObject(modelConfig) && typeof modelConfig.model_type === 'string' ? modelConfig.model_type : undefined;
  return new Tokenizer(
    { tokenizerJson, tokenizerConfig: files.json('tokenizer_config.json'), specialTokensMap: files.json('special_tokens_map.json'), chatTemplate: files.text('chat_template.jinja'), modelType },
    files.name,
  );
}

/**
 * Loads `dir/tokenizer.json` (required) with tokenizer_config.json, special_tokens_map.json,
 * chat_template.jinja and config.json's model_type when present.
 *
 * @example
 *   const tok = await loadTokenizer('models/TinyLlama');
 *   tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  // Loaded lazily so that importing this module never pulls `fs` into a browser bundle.
  const [{ readJsonFile, readOptionalJsonFile, readOptionalTextFile }, { join }] = await Promise.all([
    import('./json-file.js'),
    import('node:path'),
  ]);
  const [tokenizerJson, tokenizerConfig, specialTokensMap, chatTemplate, modelConfig] = await Promise.all([
    readJsonFile(join(dir, 'tokenizer.json')),
    readOptionalJsonFile(join(dir, 'tokenizer_config.json')),
    readOptionalJsonFile(join(dir, 'special_tokens_map.json')),
    readOptionalTextFile(join(dir, 'chat_template.jinja')),
    readOptionalJsonFile(join(dir, 'config.json')).catch(() => undefined), // only model_type is wanted
  ]);
  const modelType = isJsonObject(modelConfig) && typeof modelConfig.model_type === 'string' ? modelConfig.model_type : undefined;
  return new Tokenizer({ tokenizerJson, tokenizerConfig, specialTokensMap, chatTemplate, modelType }, dir);
}

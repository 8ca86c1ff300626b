// Which strings are a tokenizer's bos/eos/pad/unk/... tokens. tokenizer_config.json writes them as
// strings or as AddedToken objects ({ content, lstrip, ... }); special_tokens_map.json fills gaps; and
// when both are silent, the transformers tokenizer class's own defaults apply (GPT-2's repo, for
// one, ships a tokenizer_config.json with no special tokens at all).
import { InputFileError } from './input-error.js';
import { describeValue, type JsonObject } from './json-fields.js';

export const SPECIAL_TOKEN_KEYS = {
  bos: 'bos_token',
  eos: 'eos_token',
  pad: 'pad_token',
  unk: 'unk_token',
  sep: 'sep_token',
  cls: 'cls_token',
  mask: 'mask_token',
} as const;
export type SpecialTokenRole = keyof typeof SPECIAL_TOKEN_KEYS;
export type SpecialTokenStrings = Partial<Record<SpecialTokenRole, string>>;

/** Defaults of the transformers tokenizer classes (`__init__` keyword defaults), by class name without "Fast". */
const CLASS_DEFAULTS: Record<string, SpecialTokenStrings> = {
  GPT2Tokenizer: { bos: '<|endoftext|>', eos: '<|endoftext|>', unk: '<|endoftext|>' },
  LlamaTokenizer: { bos: '<s>', eos: '</s>', unk: '<unk>' },
  Qwen2Tokenizer: { eos: '<|endoftext|>', unk: '<|endoftext|>', pad: '<|endoftext|>' },
  BertTokenizer: { unk: '[UNK]', sep: '[SEP]', pad: '[PAD]', cls: '[CLS]', mask: '[MASK]' },
  RobertaTokenizer: { bos: '<s>', eos: '</s>', sep: '</s>', cls: '<s>', unk: '<unk>', pad: '<pad>', mask: '<mask>' },
};

/** The tokenizer class AutoTokenizer picks for a config.json model_type when tokenizer_class is absent. */
const MODEL_TYPE_CLASS: Record<string, string> = {
  gpt2: 'GPT2Tokenizer',
  llama: 'LlamaTokenizer',
  mistral: 'LlamaTokenizer',
  qwen2: 'Qwen2Tokenizer',
  bert: 'BertTokenizer',
  roberta: 'RobertaTokenizer',
};

/** tokenizer_class without its "Fast" suffix, else the class implied by model_type. */
export function tokenizerClassName(tokenizerClass: unknown, modelType: unknown): string | undefined {
  if (typeof tokenizerClass === 'string' && tokenizerClass.length > 0) return tokenizerClass.replace(/Fast$/, '');
  return typeof modelType === 'string' ? MODEL_TYPE_CLASS[modelType] : undefined;
}

/**
 * A token as tokenizer_config.json writes it: a string, an AddedToken object, or null for "none".
 * Returns null for an explicit none and undefined when the key is absent.
 */
export function tokenContent(value: unknown, key: string, source: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value === 'string') return value;
  const content = (value as { content?: unknown }).content;
  if (typeof value === 'object' && typeof content === 'string') return content;
  throw new InputFileError(source, `${source}: "${key}" must be a string or an object with a string "content", got ${describeValue(value)}`);
}

/** One JSON object that may name special tokens, with the file it came from. */
export interface SpecialTokenSource {
  readonly obj: JsonObject;
  readonly source: string;
}

/**
 * The special-token strings: the first source (in priority order) that mentions a role decides it,
 * null included; roles no source mentions take the class default when `inVocab` knows that string.
 */
export function resolveSpecialTokens(
  sources: readonly SpecialTokenSource[],
  className: string | undefined,
  inVocab: (token: string) => boolean,
): SpecialTokenStrings {
  const out: SpecialTokenStrings = {};
  const defaults = className ? CLASS_DEFAULTS[className] ?? {} : {};
  for (const role of Object.keys(SPECIAL_TOKEN_KEYS) as SpecialTokenRole[]) {
    const key = SPECIAL_TOKEN_KEYS[role];
    let decided: string | null | undefined;
    for (const { obj, source } of sources) {
      decided = tokenContent(obj[key], key, source);
      if (decided !== undefined) break;
    }
    if (decided === undefined) {
      const fallback = defaults[role];
      if (fallback !== undefined && inVocab(fallback)) decided = fallback;
    }
    if (typeof decided === 'string' && decided.length > 0) out[role] = decided;
  }
  return out;
}

/** additional_special_tokens as plain strings (entries may be AddedToken objects). */
export function additionalSpecialTokens(sources: readonly SpecialTokenSource[]): string[] {
  for (const { obj, source } of sources) {
    const list = obj.additional_special_tokens;
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      throw new InputFileError(source, `${source}: "additional_special_tokens" must be a list, got ${describeValue(list)}`);
    }
    return list.map((t, i) => tokenContent(t, `additional_special_tokens[${i}]`, source)).filter((t): t is string => !!t);
  }
  return [];
}

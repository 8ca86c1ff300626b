// Which modules to adapt, as PEFT reads `target_modules`: a list of names (a module path equal to a
// name or ending in "." + name), one string as a regex matched against the whole path
// (`re.fullmatch`), 'all-linear', or our 'peft' keyword for PEFT's default targets per model type
// (what PEFT does when target_modules is None: TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING in
// huggingface/peft src/peft/utils/constants.py, for the model types this project builds).
import type { Module } from '../models/module.js';

export const PEFT_LORA_TARGETS: Readonly<Record<string, readonly string[]>> = {
  t5: ['q', 'v'],
  gpt2: ['c_attn'],
  llama: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  bert: ['query', 'value'],
  roberta: ['query', 'value'],
};

/** The keyword that asks for PEFT's default targets of the model's type. */
export const PEFT_TARGETS_KEYWORD = 'peft';

/**
 * `targets` with the 'peft' keyword replaced by PEFT's list for the model's config.json model_type;
 * anything else is returned as it is.
 *
 * @example
 *   resolveTargetModules('peft', t5) // ['q', 'v']
 */
export function resolveTargetModules(targets: readonly string[] | string, model: Module): readonly string[] | string {
  if (targets !== PEFT_TARGETS_KEYWORD) return targets;
  const modelType = (model as Module & { config?: { modelType?: string } }).config?.modelType;
  const list = modelType === undefined ? undefined : PEFT_LORA_TARGETS[modelType];
  if (list === undefined) throw new Error(`targetModules "peft": PEFT has no default LoRA targets for model type ${JSON.stringify(modelType)} (known: ${Object.keys(PEFT_LORA_TARGETS).join(', ')})`);
  return list;
}

/** Characters that make a target_modules string a regex; module names never hold them. */
const REGEX_CHARACTERS = /[\\^$*+?()[\]{}|]/;

/**
 * A `--target-modules` value (or a config file's `targetModules`) as LoraConfig takes it: a value
 * with regex characters is one regex matched against the whole module path, as PEFT's string
 * target_modules (`'.*\\.(q|v)_proj'`); otherwise a comma-separated list of names, each matching a
 * path equal to it or ending in "." + it (`q_proj,v_proj`); 'all-linear' and 'peft' are keywords. An
 * array is a list of names. An invalid regex or an empty value is an error naming it.
 *
 * @example
 *   parseTargetModules('q_proj,v_proj')  // ['q_proj', 'v_proj']
 *   parseTargetModules('.*\\.q_proj')     // '.*\\.q_proj' (a regex, matched against the whole path)
 */
export function parseTargetModules(value: unknown): readonly string[] | string {
  if (typeof value === 'string' && REGEX_CHARACTERS.test(value)) {
    try {
      new RegExp(value);
    } catch (e) {
      throw new Error(`${JSON.stringify(value)} is not a valid regular expression (${(e as Error).message})`);
    }
    return value;
  }
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new Error(`must be a comma-separated list of module names, a regex, "all-linear" or "${PEFT_TARGETS_KEYWORD}", got ${JSON.stringify(value)}`);
  }
  if (list.length === 1 && (list[0] === 'all-linear' || list[0] === PEFT_TARGETS_KEYWORD)) return list[0];
  return Object.freeze(list.map((s: string) => s.trim()));
}

// PEFT's default LoRA targets per model type, for `targetModules: 'peft'` (what PEFT does when
// target_modules is None). From TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING in
// huggingface/peft src/peft/utils/constants.py, for the model types this project builds.
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

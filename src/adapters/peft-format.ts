// PEFT's wire format: adapter_config.json keys and adapter_model.safetensors tensor names. The only
// place that knows them. Checked against PEFT's LoraConfig dataclass, `get_peft_model_state_dict`
// (which strips the adapter name: `…lora_A.default.weight` → `…lora_A.weight`, and
// `…score.modules_to_save.default.weight` → `…score.weight`) and adapter folders written by PEFT
// 0.13–0.15 (see docs/ARCHITECTURE.md). DoRA's magnitude is saved as `…lora_magnitude_vector`, the
// ".weight" of its DoraLinearLayer stripped (get_peft_model_state_dict's `renamed_dora_weights`,
// src/peft/utils/save_and_load.py), and loaded back as our `…lora_magnitude_vector.weight`.
import { InputFileError } from '../io/input-error.js';
import { isInitLoraWeights, loraConfig, type InitLoraWeights, type LoraConfig } from './lora-config.js';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

export const peftTensorName = (modulePath: string, factor: 'lora_A' | 'lora_B') => `${PREFIX}${modulePath}.${factor}.weight`;
export const peftSavedName = (paramPath: string) => `${PREFIX}${paramPath}`;
/** DoRA's magnitude of the adapter at `modulePath`, as PEFT saves it (no ".weight"). */
export const peftMagnitudeName = (modulePath: string) => `${PREFIX}${modulePath}.lora_magnitude_vector`;

/** Our parameter name for a PEFT tensor key (adapter name "default" tolerated), or undefined. */
export function fromPeftName(key: string): string | undefined {
  if (!key.startsWith(PREFIX)) return undefined;
  return key
    .slice(PREFIX.length)
    .replace(/\.(lora_[AB])\.default\.weight$/, '.$1.weight')
    .replace(/\.lora_magnitude_vector(\.default)?(\.weight)?$/, '.lora_magnitude_vector.weight')
    .replace(/\.modules_to_save\.default\./, '.');
}

/**
 * init_lora_weights as read from a file: ours, or true for PEFT inits that leave the base alone and
 * whose values the loaded tensors replace anyway (eva, orthogonal); inits that rewrote the base in a
 * way this library cannot redo (loftq, corda) are refused.
 */
function initFromJson(v: unknown, source: string): InitLoraWeights {
  if (v === undefined || v === null) return true;
  if (isInitLoraWeights(v)) return v;
  if (typeof v === 'string' && /^(loftq|corda)/i.test(v)) throw new InputFileError(source, `${source}: "init_lora_weights": ${JSON.stringify(v)} is not supported (it rewrites the base weights; convert the adapter with PEFT's path_initial_model_for_weight_conversion first)`);
  return true;
}

export interface AdapterMeta {
  taskType?: string;
  baseModelNameOrPath?: string;
  fanInFanOut: boolean;
}

/** The adapter_config.json PEFT writes for this config (keys as PEFT 0.13's LoraConfig.to_dict). */
export function loraConfigToJson(c: LoraConfig, meta: AdapterMeta): Record<string, unknown> {
  const json: Record<string, unknown> = {
    alpha_pattern: { ...c.alphaPattern },
    auto_mapping: null,
    base_model_name_or_path: meta.baseModelNameOrPath ?? c.baseModelNameOrPath ?? null,
    bias: c.bias,
    fan_in_fan_out: meta.fanInFanOut,
    inference_mode: true,
    init_lora_weights: c.initLoraWeights,
    layer_replication: null,
    layers_pattern: c.layersPattern ? [...c.layersPattern] : null,
    layers_to_transform: c.layersToTransform ? [...c.layersToTransform] : null,
    loftq_config: {},
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: c.modulesToSave.length > 0 ? [...c.modulesToSave] : null,
    peft_type: 'LORA',
    r: c.r,
    rank_pattern: { ...c.rankPattern },
    revision: null,
    target_modules: typeof c.targetModules === 'string' ? c.targetModules : [...c.targetModules].sort(),
    task_type: meta.taskType ?? c.taskType ?? null,
    use_dora: c.useDora,
    use_rslora: c.useRslora,
  };
  // Written only when used: PEFT before 0.14 refuses unknown keys when loading.
  if (c.excludeModules !== undefined) json.exclude_modules = typeof c.excludeModules === 'string' ? c.excludeModules : [...c.excludeModules];
  return json;
}

/** Reads adapter_config.json; unknown keys are ignored, missing required ones named. */
export function loraConfigFromJson(json: unknown, source: string): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputFileError(source, `${source}: expected a JSON object`);
  const o = json as Record<string, unknown>;
  const missing = ['peft_type', 'r', 'lora_alpha', 'target_modules'].filter((k) => o[k] === undefined || o[k] === null);
  if (missing.length > 0) throw new InputFileError(source, `${source}: missing required key(s) ${missing.map((k) => `"${k}"`).join(', ')}`);
  if (o.peft_type !== 'LORA') throw new InputFileError(source, `${source}: "peft_type" must be "LORA", got ${JSON.stringify(o.peft_type)}`);
  if (o.lora_bias === true) throw new InputFileError(source, `${source}: "lora_bias": true is not supported`);
  if (o.use_dora !== undefined && o.use_dora !== null && typeof o.use_dora !== 'boolean') throw new InputFileError(source, `${source}: "use_dora" must be true or false, got ${JSON.stringify(o.use_dora)}`);
  const initLoraWeights = initFromJson(o.init_lora_weights, source);
  if (o.layer_replication) throw new InputFileError(source, `${source}: "layer_replication" is not supported`);
  const list = (v: unknown) => (v === null || v === undefined ? undefined : typeof v === 'string' ? v : (v as string[]));
  const layersPattern = o.layers_pattern == null ? undefined : typeof o.layers_pattern === 'string' ? [o.layers_pattern] : (o.layers_pattern as string[]);
  const layersToTransform = o.layers_to_transform == null ? undefined : typeof o.layers_to_transform === 'number' ? [o.layers_to_transform] : (o.layers_to_transform as number[]);
  try {
    return loraConfig({
      r: o.r as number,
      loraAlpha: o.lora_alpha as number,
      loraDropout: (o.lora_dropout as number | undefined) ?? 0,
      targetModules: list(o.target_modules)!,
      excludeModules: list(o.exclude_modules),
      layersToTransform,
      layersPattern,
      rankPattern: (o.rank_pattern as Record<string, number> | null) ?? {},
      alphaPattern: (o.alpha_pattern as Record<string, number> | null) ?? {},
      modulesToSave: (o.modules_to_save as string[] | null) ?? [],
      useRslora: (o.use_rslora as boolean | undefined) ?? false,
      initLoraWeights,
      useDora: o.use_dora === true,
      bias: (o.bias as 'none' | undefined) ?? 'none',
      taskType: (o.task_type as string | undefined) ?? undefined,
      baseModelNameOrPath: (o.base_model_name_or_path as string | undefined) ?? undefined,
    });
  } catch (e) {
    throw new InputFileError(source, `${source}: ${(e as Error).message}`);
  }
}

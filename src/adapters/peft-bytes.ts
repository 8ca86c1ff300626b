// A PEFT adapter as bytes and back, with no file system: what saveAdapter / loadAdapter write and
// read in Node, and what a browser downloads or is given (adapter_config.json and
// adapter_model.safetensors, PEFT's names and keys).
import { tf } from '../engine/tf.js';
import { FileSet } from '../io/file-set.js';
import { InputFileError } from '../io/input-error.js';
import { floatWeights } from '../io/float-weights.js';
import type { SafetensorsFile } from '../io/safetensors-dtype.js';
import { serializeSafetensors } from '../io/safetensors-encode.js';
import { tensorsToWrite } from '../io/safetensors-tf.js';
import { parseSafetensors } from '../io/safetensors-parse.js';
import type { Module } from '../models/module.js';
import { Linear } from '../models/linear.js';
import { mismatchMessage } from '../models/mismatch.js';
import { adapterConfigOf, injectLora } from './inject.js';
import { LoraLinear } from './lora-linear.js';
import { loraConfig, mutatesBase, type LoraConfig } from './lora-config.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, fromPeftName, loraConfigFromJson, loraConfigToJson, peftMagnitudeName, peftSavedName } from './peft-format.js';

export interface AdapterSaveOptions {
  /** adapter_config.json's base_model_name_or_path; default the config's, else config.json's _name_or_path. */
  baseModelNameOrPath?: string;
  /** Stored element type of the weights. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /**
   * PiSSA / OLoRA / LoRA-GA adapters: save A and B as trained, for the residual base (loads only
   * where that init can be redone from the base: not LoRA-GA). Default false: converted to a plain
   * rank-2r LoRA for the original base (PEFT's path_initial_model_for_weight_conversion).
   */
  raw?: boolean;
}

/** The tensors an adapter folder holds: every A and B, and the parameters of modules_to_save. */
export function adapterTensors(model: Module, config: LoraConfig): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [path, m] of model.namedModules()) {
    if (m instanceof LoraLinear) {
      out.set(peftSavedName(`${path}.lora_A.weight`), m.A);
      out.set(peftSavedName(`${path}.lora_B.weight`), m.B);
      if (m.magnitude) out.set(peftMagnitudeName(path), m.magnitude);
    }
  }
  for (const [path, m] of model.namedModules()) {
    if (path && config.modulesToSave.some((s) => path === s || path.endsWith(`.${s}`))) {
      for (const [name, v] of m.namedParameters(path)) out.set(peftSavedName(name), v);
    }
  }
  return out;
}

const PEFT_TASK: Record<string, string> = { 'causal-lm': 'CAUSAL_LM', 'sequence-classification': 'SEQ_CLS', 'seq2seq-lm': 'SEQ_2_SEQ_LM' };

export interface AdapterContents {
  readonly json: Record<string, unknown>;
  readonly tensors: Map<string, tf.Tensor>;
  /** Tensors made for the save (a conversion's concatenated factors): the caller disposes them. */
  readonly owned: readonly tf.Tensor[];
}

/** adapter_config.json's object and the tensors of adapter_model.safetensors, by PEFT name. */
export function adapterContents(model: Module, opts: AdapterSaveOptions = {}): AdapterContents {
  const config = adapterConfigOf(model);
  if (!config) throw new Error('saveAdapter: the model has no LoRA adapters (call injectLora first)');
  const task = (model as Module & { task?: string }).task;
  const peftTask = (model as Module & { peftTaskType?: string }).peftTaskType ?? (task ? PEFT_TASK[task] : undefined); // T5: SEQ_2_SEQ_LM whatever it is trained for
  const raw = (model as Module & { config?: { raw?: Record<string, unknown> } }).config?.raw;
  const fanInFanOut = [...model.namedModules().values()].some((m) => m instanceof LoraLinear && m.base instanceof Linear && m.base.transposeOnLoad);
  const json = loraConfigToJson(config, {
    taskType: config.taskType ?? peftTask,
    baseModelNameOrPath: opts.baseModelNameOrPath ?? config.baseModelNameOrPath ?? (raw?._name_or_path as string | undefined),
    fanInFanOut,
  });
  const tensors = adapterTensors(model, config);
  if (!mutatesBase(config.initLoraWeights) || opts.raw) return { json, tensors, owned: [] };
  return convertToOriginalBase(model, config, json, tensors);
}

/**
 * A PiSSA / OLoRA / LoRA-GA adapter as a plain LoRA for the original base W = W_res + s·B0·A0, as
 * PEFT's save_pretrained(path_initial_model_for_weight_conversion=…) (src/peft/peft_model.py) and
 * LoraModel.subtract_mutated_init (src/peft/tuners/lora/model.py) write it:
 *   W_res + s·B·A = W + s·(B·A − B0·A0) = W + s·[B | −B0]·[A; A0],
 * so A' = [A; A0] [2r, in], B' = [B, −B0] [out, 2r]; r, rank_pattern, alpha_pattern doubled and
 * lora_alpha doubled (×√2 with rsLoRA) to keep each s; init_lora_weights true. As PEFT, rsLoRA
 * together with rank/alpha patterns is refused. Unlike PEFT (which keeps only lora_ tensors here),
 * modules_to_save tensors are kept.
 */
function convertToOriginalBase(model: Module, config: LoraConfig, json: Record<string, unknown>, tensors: Map<string, tf.Tensor>): AdapterContents {
  const patterned = Object.keys(config.rankPattern).length > 0 || Object.keys(config.alphaPattern).length > 0;
  if (config.useRslora && patterned) throw new Error('saveAdapter: converting a PiSSA/OLoRA/LoRA-GA adapter with rsLoRA and rank_pattern/alpha_pattern is not supported (as in PEFT); save it raw');
  const double = (p: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, 2 * v]));
  const converted = loraConfig({
    ...config,
    r: 2 * config.r,
    loraAlpha: config.useRslora ? config.loraAlpha * Math.SQRT2 : 2 * config.loraAlpha,
    rankPattern: double(config.rankPattern),
    alphaPattern: double(config.alphaPattern),
    initLoraWeights: true,
  });
  const out = new Map(tensors);
  const owned: tf.Tensor[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof LoraLinear)) continue;
    const init = m.initialFactors;
    if (!init) throw new Error(`saveAdapter: "${path}" has no initial factors to convert against (init "${String(config.initLoraWeights)}")`);
    const a0 = tf.tensor2d(init.a, [m.r, m.inFeatures], 'float32');
    const b0 = tf.tensor2d(init.b, [m.outFeatures, m.r], 'float32');
    const a = tf.concat([m.A, a0], 0); // [2r, in]
    const b = tf.tidy(() => tf.concat([m.B, tf.neg(b0)], 1)); // [out, 2r]
    tf.dispose([a0, b0]);
    out.set(peftSavedName(`${path}.lora_A.weight`), a);
    out.set(peftSavedName(`${path}.lora_B.weight`), b);
    owned.push(a, b);
  }
  const keys = ['r', 'lora_alpha', 'rank_pattern', 'alpha_pattern', 'init_lora_weights'];
  const fields = loraConfigToJson(converted, { fanInFanOut: json.fan_in_fan_out as boolean });
  return { json: { ...json, ...Object.fromEntries(keys.map((k) => [k, fields[k]])) }, tensors: out, owned };
}



/**
 * The adapter's two files as bytes, keyed by file name (what a page offers for download).
 *
 * @example
 *   const files = await adapterFiles(model); // Map { 'adapter_config.json' => …, 'adapter_model.safetensors' => … }
 */
export async function adapterFiles(model: Module, opts: AdapterSaveOptions = {}): Promise<Map<string, Uint8Array>> {
  const { json, tensors, owned } = adapterContents(model, opts);
  let weights: Uint8Array;
  try {
    weights = serializeSafetensors(await tensorsToWrite(tensors, opts.dtype ?? 'F32'));
  } finally {
    tf.dispose([...owned]);
  }
  return new Map([
    [ADAPTER_CONFIG, new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`)],
    [ADAPTER_WEIGHTS, weights],
  ]);
}

/** `loadAdapter` for an adapter held in memory (dropped files, a download). */
export function loadAdapterFromFiles(model: Module, files: FileSet): LoraConfig {
  const configPath = files.path(ADAPTER_CONFIG);
  const json = files.json(ADAPTER_CONFIG);
  if (json === undefined) throw new InputFileError(configPath, `${configPath} not found`);
  const config = loraConfigFromJson(json, configPath);
  const bin = files.has('adapter_model.bin') ? ' (adapter_model.bin is a PyTorch pickle; convert it to safetensors with PEFT)' : '';
  const weights = files.required(ADAPTER_WEIGHTS, bin);
  applyAdapter(model, config, parseSafetensors(weights, files.path(ADAPTER_WEIGHTS)), { config: configPath, weights: files.path(ADAPTER_WEIGHTS) });
  return config;
}

/**
 * Injects `config`'s adapters into `model` and copies `file`'s tensors into them. Missing,
 * unexpected and mis-shaped tensors are reported together in one InputFileError naming the file.
 */
export function applyAdapter(model: Module, config: LoraConfig, file: SafetensorsFile, paths: { config: string; weights: string }): void {
  const weightsPath = paths.weights;
  try {
    injectLora(model, config);
  } catch (e) {
    if (adapterConfigOf(model) !== undefined) throw e; // adapters were there before: the caller's mistake
    // target_modules / modules_to_save that this model lacks: an adapter made for another model
    throw new InputFileError(paths.config, `${paths.config}: ${(e as Error).message}`);
  }
  const expected = new Map([...adapterTensors(model, config)].map(([k, v]) => [fromPeftName(k)!, v]));
  const found = new Map<string, { shape: number[]; data: Float32Array }>();
  const unexpected: string[] = [];
  for (const [key, t] of file.tensors) {
    const name = fromPeftName(key);
    if (name === undefined || !expected.has(name)) unexpected.push(key);
    else found.set(name, { shape: t.shape, data: floatWeights(t, key, weightsPath) });
  }
  const missing = [...expected.keys()].filter((k) => !found.has(k));
  const misShaped = [...found].filter(([k, t]) => t.shape.join() !== expected.get(k)!.shape.join()).map(([k, t]) => `${k} [${t.shape}] (model [${expected.get(k)!.shape}])`);
  if (missing.length || unexpected.length || misShaped.length) {
    throw new InputFileError(weightsPath, mismatchMessage(`${weightsPath} does not match the model:`, { missing, unexpected, 'mis-shaped': misShaped }));
  }
  for (const [name, t] of found) {
    const v = expected.get(name) as tf.Variable;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, 'float32')));
  }
}

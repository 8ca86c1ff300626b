// A PEFT adapter as bytes and back, with no file system: what saveAdapter / loadAdapter write and
// read in Node, and what a browser downloads or is given (adapter_config.json and
// adapter_model.safetensors, PEFT's names and keys).
import { tf } from '../engine/tf.js';
import { FileSet } from '../io/file-set.js';
import { InputFileError } from '../io/input-error.js';
import { toFloat32 } from '../io/safetensors-convert.js';
import type { SafetensorsFile } from '../io/safetensors-dtype.js';
import { serializeSafetensors } from '../io/safetensors-encode.js';
import { tensorsToWrite } from '../io/safetensors-tf.js';
import { parseSafetensors } from '../io/safetensors-parse.js';
import type { Module } from '../models/module.js';
import { Linear } from '../models/linear.js';
import { mismatchMessage } from '../models/mismatch.js';
import { adapterConfigOf, injectLora } from './inject.js';
import { LoraLinear } from './lora-linear.js';
import type { LoraConfig } from './lora-config.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, fromPeftName, loraConfigFromJson, loraConfigToJson, peftSavedName } from './peft-format.js';

export interface AdapterSaveOptions {
  /** adapter_config.json's base_model_name_or_path; default the config's, else config.json's _name_or_path. */
  baseModelNameOrPath?: string;
  /** Stored element type of the weights. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
}

/** The tensors an adapter folder holds: every A and B, and the parameters of modules_to_save. */
export function adapterTensors(model: Module, config: LoraConfig): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [path, m] of model.namedModules()) {
    if (m instanceof LoraLinear) {
      out.set(peftSavedName(`${path}.lora_A.weight`), m.A);
      out.set(peftSavedName(`${path}.lora_B.weight`), m.B);
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

/** adapter_config.json's object and the tensors of adapter_model.safetensors, by PEFT name. */
export function adapterContents(model: Module, opts: AdapterSaveOptions = {}): { json: Record<string, unknown>; tensors: Map<string, tf.Tensor> } {
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
  return { json: json as Record<string, unknown>, tensors: adapterTensors(model, config) };
}

/**
 * The adapter's two files as bytes, keyed by file name (what a page offers for download).
 *
 * @example
 *   const files = await adapterFiles(model); // Map { 'adapter_config.json' => …, 'adapter_model.safetensors' => … }
 */
export async function adapterFiles(model: Module, opts: AdapterSaveOptions = {}): Promise<Map<string, Uint8Array>> {
  const { json, tensors } = adapterContents(model, opts);
  const weights = serializeSafetensors(await tensorsToWrite(tensors, opts.dtype ?? 'F32'));
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
    else found.set(name, { shape: t.shape, data: toFloat32(t, key) });
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

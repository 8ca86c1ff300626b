// saveAdapter / loadAdapter: PEFT adapter folders that Python's PEFT loads unchanged.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { InputFileError } from '../io/input-error.js';
import { readJsonFile } from '../io/json-file.js';
import { readSafetensors, tensorsToWrite, toFloat32, writeSafetensors } from '../io/safetensors.js';
import type { Module } from '../models/module.js';
import { Linear } from '../models/linear.js';
import { mismatchMessage } from '../models/mismatch.js';
import { adapterConfigOf, injectLora } from './inject.js';
import { LoraLinear } from './lora-linear.js';
import type { LoraConfig } from './lora-config.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, fromPeftName, loraConfigFromJson, loraConfigToJson, peftSavedName } from './peft-format.js';

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

const PEFT_TASK: Record<string, string> = { 'causal-lm': 'CAUSAL_LM', 'sequence-classification': 'SEQ_CLS' };

/**
 * Writes adapter_config.json and adapter_model.safetensors (float32, PEFT names), atomically.
 *
 * @example
 *   await saveAdapter(model, 'out/adapter');
 */
export async function saveAdapter(model: Module, dir: string, opts: { baseModelNameOrPath?: string; dtype?: 'F32' | 'F16' | 'BF16' } = {}): Promise<void> {
  const config = adapterConfigOf(model);
  if (!config) throw new Error('saveAdapter: the model has no LoRA adapters (call injectLora first)');
  await mkdir(dir, { recursive: true });
  const task = (model as Module & { task?: string }).task;
  const raw = (model as Module & { config?: { raw?: Record<string, unknown> } }).config?.raw;
  const fanInFanOut = [...model.namedModules().values()].some((m) => m instanceof LoraLinear && m.base instanceof Linear && m.base.transposeOnLoad);
  const json = loraConfigToJson(config, {
    taskType: config.taskType ?? (task ? PEFT_TASK[task] : undefined),
    baseModelNameOrPath: opts.baseModelNameOrPath ?? config.baseModelNameOrPath ?? (raw?._name_or_path as string | undefined),
    fanInFanOut,
  });
  await writeSafetensors(join(dir, ADAPTER_WEIGHTS), await tensorsToWrite(adapterTensors(model, config), opts.dtype ?? 'F32'));
  await writeJsonAtomic(join(dir, ADAPTER_CONFIG), json);
}

/** Reads a PEFT adapter folder's config (validated; unknown keys ignored). */
export async function readAdapterConfig(dir: string): Promise<LoraConfig> {
  const path = join(dir, ADAPTER_CONFIG);
  return loraConfigFromJson(await readJsonFile(path), path);
}

/**
 * Injects the adapter described by `dir` into `model` and loads its weights. Missing, unexpected
 * and mis-shaped tensors are reported together in one InputFileError naming the file.
 */
export async function loadAdapter(model: Module, dir: string): Promise<LoraConfig> {
  const config = await readAdapterConfig(dir);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  if (!(await stat(weightsPath).catch(() => undefined))) {
    const bin = await stat(join(dir, 'adapter_model.bin')).catch(() => undefined);
    throw new InputFileError(weightsPath, `${weightsPath} not found${bin ? ' (adapter_model.bin is a PyTorch pickle; convert it to safetensors with PEFT)' : ''}`);
  }
  const file = await readSafetensors(weightsPath);
  try {
    injectLora(model, config);
  } catch (e) {
    if (adapterConfigOf(model) !== undefined) throw e; // adapters were there before: the caller's mistake
    // target_modules / modules_to_save that this model lacks: an adapter made for another model
    const configPath = join(dir, ADAPTER_CONFIG);
    throw new InputFileError(configPath, `${configPath}: ${(e as Error).message}`);
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
  return config;
}

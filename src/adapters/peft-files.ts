// saveAdapter / loadAdapter: PEFT adapter folders that Python's PEFT loads unchanged.
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { InputFileError } from '../io/input-error.js';
import { readJsonFile } from '../io/json-file.js';
import { readSafetensors, tensorsToWrite, writeSafetensors } from '../io/safetensors.js';
import type { Module } from '../models/module.js';
import type { LoraConfig } from './lora-config.js';
import { adapterContents, applyAdapter, type AdapterSaveOptions } from './peft-bytes.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loraConfigFromJson } from './peft-format.js';

export { adapterTensors } from './peft-bytes.js';

/**
 * Writes adapter_config.json and adapter_model.safetensors (float32, PEFT names), atomically.
 *
 * @example
 *   await saveAdapter(model, 'out/adapter');
 */
export async function saveAdapter(model: Module, dir: string, opts: AdapterSaveOptions = {}): Promise<void> {
  const { json, tensors, owned } = adapterContents(model, opts);
  try {
    await mkdir(dir, { recursive: true });
    await writeSafetensors(join(dir, ADAPTER_WEIGHTS), await tensorsToWrite(tensors, opts.dtype ?? 'F32'));
  } finally {
    tf.dispose([...owned]);
  }
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
  applyAdapter(model, config, await readSafetensors(weightsPath), { config: join(dir, ADAPTER_CONFIG), weights: weightsPath });
  return config;
}

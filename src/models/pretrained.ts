// Hugging Face model folders in and out: config.json + model.safetensors (single or sharded), name for
// name. The only place checkpoint layouts are handled (Conv1D transposes, tied heads, prefixes).
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { modelConfigToJson, readModelConfig } from '../io/hf-config.js';
import { InputFileError } from '../io/input-error.js';
import { forEachCheckpointTensor, tensorsToWrite, writeFileAtomic, writeSafetensors } from '../io/safetensors.js';
import { zerosInit } from './layers.js';
import { T5ForConditionalGeneration } from './t5.js';
import type { AnyModel, CausalLM, PretrainedModel, SequenceClassifier } from './types.js';
import { checkpointTargets, copyCheckpoint, modelFromCheckpoint, type LoadOptions, type LoadReport } from './weights.js';

export type { LoadOptions, LoadReport } from './weights.js';

/**
 * Loads a Hugging Face model folder (config.json + model.safetensors or a sharded index). Weights
 * stored as F16/BF16 are upcast to float32; GPT-2 Conv1D weights are transposed to [out, in].
 *
 * @example
 *   const lm = await loadPretrained('models/gpt2', { task: 'causal-lm' });
 *   const clf = await loadPretrained('models/gpt2', { task: 'sequence-classification', numLabels: 2 });
 */
export async function loadPretrained(dir: string, opts: LoadOptions & { task: 'causal-lm' }): Promise<CausalLM>;
export async function loadPretrained(dir: string, opts: LoadOptions & { task: 'sequence-classification' }): Promise<SequenceClassifier>;
export async function loadPretrained(dir: string, opts?: LoadOptions): Promise<AnyModel>;
export async function loadPretrained(dir: string, opts: LoadOptions = {}): Promise<AnyModel> {
  return (await loadPretrainedWithReport(dir, opts)).model;
}

/** `loadPretrained` that also returns which head weights were newly initialised or unused. */
export async function loadPretrainedWithReport(dir: string, opts: LoadOptions = {}): Promise<{ model: AnyModel; report: LoadReport }> {
  const config = await readModelConfig(dir);
  return modelFromCheckpoint(config, (visit) => forEachCheckpointTensor(dir, visit), opts, { source: dir, configPath: join(dir, 'config.json') });
}

/**
 * Loads a T5 folder as T5ForConditionalGeneration, for text generation (`generateSeq2Seq`); the
 * trainer loads the same folder as a text-to-text classifier through `loadPretrained`.
 *
 * @example
 *   const t5 = await loadSeq2SeqLM('models/flan-t5-small');
 */
export async function loadSeq2SeqLM(dir: string): Promise<T5ForConditionalGeneration> {
  const configPath = join(dir, 'config.json');
  const config = await readModelConfig(dir);
  if (config.modelType !== 't5') throw new InputFileError(configPath, `${configPath}: model_type "${config.modelType}" is not an encoder-decoder (supported: t5)`);
  const model = new T5ForConditionalGeneration(config, { init: zerosInit() });
  try {
    await copyCheckpoint(model, (visit) => forEachCheckpointTensor(dir, visit), dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Files a tokenizer may need, copied by `savePretrained({ copyFrom })` when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'tokenizer.model',
  'generation_config.json',
] as const;

export interface SaveOptions {
  /** Stored element type of the weights. Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** A model folder whose tokenizer files (TOKENIZER_FILES) are copied alongside. */
  copyFrom?: string;
}

async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, async (_h, writeAt) => writeAt(new TextEncoder().encode(text), 0));
}

/** Copies `from` to `to` through a temp file, so `to` is never half-written; false when `from` does not exist. */
async function copyFileAtomic(from: string, to: string): Promise<boolean> {
  const temp = `${to}.tmp-${process.pid}-${Date.now()}`;
  try {
    await copyFile(from, temp);
  } catch (e) {
    await rm(temp, { force: true });
    if ((e as { code?: string }).code === 'ENOENT') return false;
    throw e;
  }
  await rename(temp, to);
  return true;
}

/**
 * Writes `model` as a Hugging Face folder: config.json and model.safetensors with the original
 * names and layouts (Conv1D weights transposed back to [in, out]; a tied lm_head is not written,
 * as transformers does). Adapters must be merged or removed first: every parameter is written.
 *
 * @example
 *   await savePretrained(model, 'out/merged', { dtype: 'BF16', copyFrom: 'models/gpt2' });
 */
export async function savePretrained(model: AnyModel | PretrainedModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const named = new Map<string, tf.Tensor>();
  const temporaries: tf.Tensor[] = [];
  try {
    for (const [name, target] of checkpointTargets(model)) {
      if (target.frozen) {
        // a frozen weight is written from its stored values (dequantized if quantized)
        const t = tf.tensor2d(target.frozen.frozen.toFloat32(), [...target.frozen.weightShape] as [number, number], 'float32');
        temporaries.push(t);
        named.set(name, t);
        continue;
      }
      const { variable, transposed } = target;
      const t = transposed ? tf.transpose(variable) : variable;
      if (transposed) temporaries.push(t);
      named.set(name, t);
    }
    await writeSafetensors(join(dir, 'model.safetensors'), await tensorsToWrite(named, opts.dtype ?? 'F32'), { format: 'pt' });
  } finally {
    tf.dispose(temporaries);
  }
  const config = { ...model.config, architectures: [model.architecture] };
  await writeTextAtomic(join(dir, 'config.json'), `${JSON.stringify(modelConfigToJson(config), null, 2)}\n`);
  if (opts.copyFrom !== undefined) {
    for (const file of TOKENIZER_FILES) await copyFileAtomic(join(opts.copyFrom, file), join(dir, file));
  }
}

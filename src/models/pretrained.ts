// Hugging Face model folders in and out: config.json + model.safetensors (single or sharded), name for
// name. The only place checkpoint layouts are handled (Conv1D transposes, tied heads, prefixes).
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { modelConfigToJson, readModelConfig } from '../io/hf-config.js';
import { InputFileError } from '../io/input-error.js';
import { forEachCheckpointTensor, tensorsToWrite, toFloat32, writeFileAtomic, writeSafetensors, type RawTensor } from '../io/safetensors.js';
import { createModel, defaultTask } from './auto.js';
import { zerosInit } from './layers.js';
import { Linear } from './linear.js';
import { mismatchMessage } from './mismatch.js';
import type { AnyModel, CausalLM, PretrainedModel, SequenceClassifier, Task } from './types.js';

/** Checkpoint entries that are buffers, not parameters (causal masks, rotary tables, position ranges). */
const BUFFERS = [/(^|\.)attn\.(bias|masked_bias)$/, /(^|\.)rotary_emb\.inv_freq$/, /(^|\.)position_ids$/];

/** Heads of other tasks (an LM head in a classifier checkpoint, BERT's pretraining heads, …): unused, not errors. */
const OTHER_HEADS = [/^lm_head\./, /^score\./, /^classifier\./, /^cls\./, /^(\w+\.)?pooler\./];

export interface LoadOptions {
  /** Default: from config.json `architectures` (causal-lm for decoders, sequence-classification for encoders). */
  task?: Task;
  /** Labels of a classification head; default config.json's. A head of another size is newly initialised. */
  numLabels?: number;
  /** Seed of any newly initialised head. Default 0. */
  seed?: number;
  /** Dropout rates applied when a forward pass sets `training` (config.json's are not read). Default none. */
  dropout?: { hidden?: number; attention?: number };
  /** Where "newly initialised" / "unused" notices go. Default console.warn. */
  onWarning?: (message: string) => void;
}

export interface LoadReport {
  /** Model parameters the checkpoint lacked (task heads only), left at their seeded init. */
  newlyInitialized: string[];
  /** Checkpoint tensors of heads this model does not have. */
  unused: string[];
}

interface Target {
  variable: tf.Variable;
  /** GPT-2 Conv1D: the checkpoint holds the transpose. */
  transposed: boolean;
}

/** Every parameter by Hugging Face name, with whether its checkpoint layout is transposed. */
function checkpointTargets(model: PretrainedModel): Map<string, Target> {
  const out = new Map<string, Target>();
  for (const [path, m] of model.namedModules()) {
    for (const [local, variable] of m.localParameters()) {
      const transposed = m instanceof Linear && m.transposeOnLoad && local === 'weight';
      out.set(path ? `${path}.${local}` : local, { variable, transposed });
    }
  }
  return out;
}

/** Checkpoint name → model name: old BERT gamma/beta, and the base-model prefix Hub checkpoints omit. */
function resolveName(name: string, model: PretrainedModel, targets: Map<string, Target>): string | undefined {
  const renamed = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (targets.has(renamed)) return renamed;
  const prefixed = `${model.basePrefix}.${renamed}`;
  return targets.has(prefixed) ? prefixed : undefined;
}

const showShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Copies every checkpoint tensor in `dir` into `model`'s parameters. Missing, unexpected and
 * mis-shaped tensors are reported together in one InputFileError naming the folder; a missing or
 * differently sized task head (a causal-LM checkpoint in a classifier, another numLabels) keeps its
 * seeded init and is reported, not refused.
 */
export async function loadWeights(model: PretrainedModel, dir: string): Promise<LoadReport> {
  const targets = checkpointTargets(model);
  const matched = new Set<string>(); // model names a checkpoint tensor went to (or was refused for its shape)
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  const unused: string[] = [];
  const isHead = (n: string): boolean => model.headPrefixes.some((p) => n.startsWith(p));
  await forEachCheckpointTensor(dir, (ckptName: string, raw: RawTensor) => {
    if (BUFFERS.some((re) => re.test(ckptName))) return;
    const name = resolveName(ckptName, model, targets);
    if (name === undefined || matched.has(name)) {
      (OTHER_HEADS.some((re) => re.test(ckptName)) ? unused : unexpected).push(ckptName);
      return;
    }
    const { variable, transposed } = targets.get(name)!;
    const want = transposed ? [...variable.shape].reverse() : variable.shape;
    if (raw.shape.length !== want.length || raw.shape.some((n, i) => n !== want[i])) {
      if (isHead(name)) {
        // a head of another size (numLabels changed): keep the fresh one, as HF's ignore_mismatched_sizes
        unused.push(`${ckptName} (checkpoint ${showShape(raw.shape)}, model ${showShape(want)})`);
        return;
      }
      misShaped.push(`${ckptName}: checkpoint ${showShape(raw.shape)}, model expects ${showShape(want)}`);
      matched.add(name); // reported as mis-shaped, not also as missing
      return;
    }
    const values = toFloat32(raw, ckptName); // F16 / BF16 widen exactly
    tf.tidy(() => {
      const t = tf.tensor(values, raw.shape, 'float32');
      variable.assign(transposed ? tf.transpose(t) : t);
    });
    matched.add(name);
  });
  const notLoaded = [...targets.keys()].filter((n) => !matched.has(n));
  const missing = notLoaded.filter((n) => !isHead(n));
  if (missing.length + unexpected.length + misShaped.length > 0) {
    const header = `checkpoint in ${dir} does not fit the ${model.architecture} its config.json describes:`;
    throw new InputFileError(dir, mismatchMessage(header, { missing, unexpected, 'mis-shaped': misShaped }));
  }
  return { newlyInitialized: notLoaded.filter(isHead), unused };
}

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
  const task = opts.task ?? defaultTask(config);
  let model: AnyModel;
  try {
    model = createModel(config, { task, numLabels: opts.numLabels, init: zerosInit(), headSeed: opts.seed ?? 0, dropout: opts.dropout, dropoutSeed: opts.seed });
  } catch (e) {
    // config.json values the parser accepts but no model here is built from: an activation, an encoder as a causal LM
    const path = join(dir, 'config.json');
    throw new InputFileError(path, `${path}: ${(e as Error).message}`);
  }
  let report: LoadReport;
  try {
    report = await loadWeights(model, dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const notes = [
    report.newlyInitialized.length ? `newly initialised (train them): ${report.newlyInitialized.join(', ')}` : '',
    report.unused.length ? `unused checkpoint weights: ${report.unused.join(', ')}` : '',
  ].filter(Boolean);
  if (notes.length) (opts.onWarning ?? console.warn)(`${model.architecture} from ${dir}: ${notes.join('; ')}`);
  return { model, report };
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
export async function savePretrained(model: AnyModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const named = new Map<string, tf.Tensor>();
  const temporaries: tf.Tensor[] = [];
  try {
    for (const [name, { variable, transposed }] of checkpointTargets(model)) {
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

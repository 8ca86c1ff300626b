// A model from a checkpoint's tensors, wherever they come from (a folder in Node, dropped or fetched
// files in a browser): the model its config describes, each tensor copied into the parameter of the
// same Hugging Face name, and one report of everything that does not fit. No file system here.
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../io/hf-config.js';
import { isHeapExhausted } from '../engine/heap.js';
import { InputFileError } from '../io/input-error.js';
import { checkStoredFloats, floatWeights } from '../io/float-weights.js';
import type { RawTensor } from '../io/safetensors-dtype.js';
import { createModel, defaultTask } from './auto.js';
import type { QuantizeMode } from '../quant/formats.js';
import { FrozenSlot } from './frozen-linear.js';
import { zerosInit } from './layers.js';
import { Linear } from './linear.js';
import { mismatchMessage } from './mismatch.js';
import type { AnyModel, PretrainedModel, Task } from './types.js';

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
  /**
   * Keep the frozen base weights outside the wasm heap (engine/frozen.ts): the linear layers and
   * embeddings of a Llama-family model, in the checkpoint's dtype or quantized (`quantize`, block
   * linear layers only). For a model that trains adapters, not its own weights. Other architectures
   * load as before (`frozenTierSupported`).
   */
  frozen?: { quantize: QuantizeMode };
}

/** Model types whose layers can live on the frozen tier (GPT-2's Conv1D, BERT and T5 stay on the heap). */
export const FROZEN_TIER_MODEL_TYPES: readonly string[] = ['llama', 'qwen2', 'mistral'];

export function frozenTierSupported(config: ModelConfig): boolean {
  return FROZEN_TIER_MODEL_TYPES.includes(config.modelType);
}

export interface LoadReport {
  /** Model parameters the checkpoint lacked (task heads only), left at their seeded init. */
  newlyInitialized: string[];
  /** Checkpoint tensors of heads this model does not have. */
  unused: string[];
}

export type Target =
  | {
      variable: tf.Variable;
      frozen?: undefined;
      /** GPT-2 Conv1D: the checkpoint holds the transpose. */
      transposed: boolean;
    }
  | { variable?: undefined; frozen: FrozenSlot; transposed: false };

/** Every parameter by Hugging Face name (frozen weights outside the heap included), with whether its checkpoint layout is transposed. */
export function checkpointTargets(model: PretrainedModel): Map<string, Target> {
  const out = new Map<string, Target>();
  for (const [path, m] of model.namedModules()) {
    if (m instanceof FrozenSlot) out.set(path ? `${path}.weight` : 'weight', { frozen: m, transposed: false });
    for (const [local, variable] of m.localParameters()) {
      const transposed = m instanceof Linear && m.transposeOnLoad && local === 'weight';
      out.set(path ? `${path}.${local}` : local, { variable, transposed });
    }
  }
  return out;
}

const targetShape = (t: Target): readonly number[] => (t.frozen ? t.frozen.weightShape : t.transposed ? [...t.variable.shape].reverse() : t.variable.shape);

/** Checkpoint name → model name: old BERT gamma/beta, and the base-model prefix Hub checkpoints omit. */
function resolveName(name: string, model: PretrainedModel, targets: Map<string, Target>): string | undefined {
  const renamed = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (targets.has(renamed)) return renamed;
  const prefixed = `${model.basePrefix}.${renamed}`;
  return targets.has(prefixed) ? prefixed : undefined;
}

const showShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Visits every tensor of a checkpoint (one file or its shards), by checkpoint name and the file holding it. */
export type CheckpointTensors = (visit: (name: string, raw: RawTensor, file?: string) => void) => Promise<void> | void;

/**
 * Copies every checkpoint tensor into `model`'s parameters. Missing, unexpected and mis-shaped
 * tensors are reported together in one InputFileError naming `source` (the folder); a missing or
 * differently sized task head (a causal-LM checkpoint in a classifier, another numLabels) keeps its
 * seeded init and is reported, not refused.
 */
export async function copyCheckpoint(model: PretrainedModel, tensors: CheckpointTensors, source: string): Promise<LoadReport> {
  const targets = checkpointTargets(model);
  const matched = new Set<string>(); // model names a checkpoint tensor went to (or was refused for its shape)
  const unexpected: string[] = [];
  const misShaped: string[] = [];
  const unused: string[] = [];
  const isHead = (n: string): boolean => model.headPrefixes.some((p) => n.startsWith(p));
  await tensors((ckptName: string, raw: RawTensor, file?: string) => {
    if (BUFFERS.some((re) => re.test(ckptName)) || model.ignoredTensors?.some((re) => re.test(ckptName))) return;
    const name = resolveName(ckptName, model, targets);
    if (name === undefined || matched.has(name)) {
      (OTHER_HEADS.some((re) => re.test(ckptName)) ? unused : unexpected).push(ckptName);
      return;
    }
    const target = targets.get(name)!;
    const want = targetShape(target);
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
    if (target.frozen) {
      checkStoredFloats(raw, ckptName, file ?? source); // NaN, Inf and integer dtypes refused, as below
      try {
        target.frozen.load(raw, ckptName); // its bytes as stored (or quantized): no float32 copy on the heap
      } catch (e) {
        throw new InputFileError(source, `${source}: ${(e as Error).message}`);
      }
      matched.add(name);
      return;
    }
    const { variable, transposed } = target;
    const values = floatWeights(raw, ckptName, file ?? source); // F16 / BF16 widen exactly; NaN, Inf and integer dtypes refused
    tf.tidy(() => {
      const t = tf.tensor(values, raw.shape, 'float32');
      variable.assign(transposed ? tf.transpose(t) : t);
    });
    matched.add(name);
  });
  const notLoaded = [...targets.keys()].filter((n) => !matched.has(n));
  const frozenHeads = notLoaded.filter((n) => targets.get(n)!.frozen !== undefined && isHead(n));
  if (frozenHeads.length > 0) {
    throw new InputFileError(source, `checkpoint in ${source} has no ${frozenHeads.join(', ')}: a head the checkpoint lacks cannot be frozen; load without the frozen tier (--quantize none on the wasm engine, LORAPRO_BACKEND=wasm)`);
  }
  const missing = notLoaded.filter((n) => !isHead(n));
  if (missing.length + unexpected.length + misShaped.length > 0) {
    const header = `checkpoint in ${source} does not fit the ${model.architecture} its config.json describes:`;
    throw new InputFileError(source, mismatchMessage(header, { missing, unexpected, 'mis-shaped': misShaped }));
  }
  return { newlyInitialized: notLoaded.filter(isHead), unused };
}


/**
 * The model `config` describes, with zeroed weights (a new task head seeded). `configPath` is named
 * when the config parses but describes nothing buildable (an activation, an encoder as a causal LM).
 */
export function emptyModel(config: ModelConfig, opts: LoadOptions, configPath: string): AnyModel {
  const task = opts.task ?? defaultTask(config);
  if (opts.frozen && !frozenTierSupported(config)) {
    throw new InputFileError(configPath, `${configPath}: model_type "${config.modelType}" cannot keep its weights on the frozen tier (quantized or outside the heap); supported: ${FROZEN_TIER_MODEL_TYPES.join(', ')}`);
  }
  try {
    return createModel(config, { task, numLabels: opts.numLabels, init: { ...zerosInit(), frozen: opts.frozen }, headSeed: opts.seed ?? 0, dropout: opts.dropout, dropoutSeed: opts.seed });
  } catch (e) {
    if (isHeapExhausted(e)) throw e; // the model does not fit: not config.json's fault (callers report memory)
    throw new InputFileError(configPath, `${configPath}: ${(e as Error).message}`);
  }
}

/** `emptyModel` filled from `tensors`; disposed again when they do not fit. Head notices go to opts.onWarning. */
export async function modelFromCheckpoint(config: ModelConfig, tensors: CheckpointTensors, opts: LoadOptions, where: { source: string; configPath: string }): Promise<{ model: AnyModel; report: LoadReport }> {
  const model = emptyModel(config, opts, where.configPath);
  let report: LoadReport;
  try {
    report = await copyCheckpoint(model, tensors, where.source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const notes = [
    report.newlyInitialized.length ? `newly initialised (train them): ${report.newlyInitialized.join(', ')}` : '',
    report.unused.length ? `unused checkpoint weights: ${report.unused.join(', ')}` : '',
  ].filter(Boolean);
  if (notes.length) (opts.onWarning ?? console.warn)(`${model.architecture} from ${where.source}: ${notes.join('; ')}`);
  return { model, report };
}

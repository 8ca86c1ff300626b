// Model folders for a run: the tokenizer and the model for the task, with missing folders and files
// reported as usage errors naming the option.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter, readAdapterConfig } from '../adapters/peft-files.js';
import { mutatesBase } from '../adapters/lora-config.js';
import { readModelConfig, type ModelConfig } from '../io/hf-config.js';
import { loadTokenizer, type Tokenizer } from '../io/tokenizer.js';
import { defaultTask } from '../models/auto.js';
import { loadPretrained } from '../models/pretrained.js';
import { frozenTierSupported, FROZEN_TIER_MODEL_TYPES } from '../models/weights.js';
import { frozenTierNative } from '../engine/frozen.js';
import type { QuantizeMode } from '../quant/formats.js';
import { setTextToTextLabels } from '../models/t5-classifier.js';
import { isTextToText, type AnyModel, type Task } from '../models/types.js';
import type { LabelOrigin } from '../data/examples.js';
import type { TaskName } from './config.js';
import { UsageError } from './errors.js';
import { readRunFile, type RunFile } from './run-file.js';

export const MODEL_TASK: Readonly<Record<TaskName, Task>> = { classification: 'sequence-classification', 'causal-lm': 'causal-lm' };

/** Checks that `dir` is a model folder (config.json present). */
export function requireModelDir(dir: string, option = '--model'): void {
  if (!existsSync(dir)) throw new UsageError(`${option}: folder not found: ${dir}`);
  if (!existsSync(join(dir, 'config.json'))) throw new UsageError(`${option}: ${dir} is not a Hugging Face model folder (no config.json)`);
}

export async function loadRunTokenizer(dir: string): Promise<Tokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) throw new UsageError(`--model: ${dir} has no tokenizer.json`);
  return loadTokenizer(dir);
}

/** The pad id a batch is padded with: the tokenizer's pad token, else its EOS. */
export function padIdOf(tok: Tokenizer, dir: string): number {
  if (tok.padTokenId === undefined) throw new UsageError(`--model: the tokenizer in ${dir} has neither a pad token nor an EOS token to pad batches with`);
  return tok.padTokenId;
}

/** Where a model's frozen base lives: on the frozen tier (engine/frozen.ts), or undefined for float32 parameters on the heap as before. */
export type FrozenTier = { readonly quantize: QuantizeMode } | undefined;

/**
 * Whether a base model's weights go on the frozen tier. `quantize` int8 / nf4 / nf4-dq asks for it (Llama family
 * only; refused where the method needs the base weight itself); 'none' takes it by default where it
 * saves memory: the native engine is loaded, the model is of the Llama family, and nothing needs W on
 * the heap (full fine-tuning, DoRA, the PiSSA / OLoRA / LoRA-GA inits). Without the native engine a
 * quantized base is dequantized to float32 on the heap (same numbers, no memory saved), said once.
 */
export function frozenTierFor(config: ModelConfig, o: { adapters: boolean; needsBaseWeight: boolean; quantize: QuantizeMode; option?: string }, log: (line: string) => void): FrozenTier {
  const option = o.option ?? '--quantize';
  if (o.quantize === 'none') return o.adapters && !o.needsBaseWeight && frozenTierSupported(config) && frozenTierNative() ? { quantize: 'none' } : undefined;
  if (!o.adapters) throw new UsageError(`${option} ${o.quantize} quantizes a frozen base under adapters; full fine-tuning trains every weight`);
  if (!frozenTierSupported(config)) throw new UsageError(`${option} ${o.quantize}: model_type "${config.modelType}" is not supported (supported: ${FROZEN_TIER_MODEL_TYPES.join(', ')}); use ${option} none`);
  if (o.needsBaseWeight) throw new UsageError(`${option} ${o.quantize}: this method reads or rewrites the base weight itself (DoRA, PiSSA, OLoRA, LoRA-GA), which a quantized base does not allow; use ${option} none`);
  if (!frozenTierNative()) log(`${option} ${o.quantize} without the native engine: the base is quantized and dequantized to float32 on the heap (the same numbers, no memory saved)`);
  return { quantize: o.quantize };
}

/**
 * The model for `task`: a classifier gets a head of `numLabels` (newly initialised with `seed`
 * when the checkpoint has none, as Hugging Face does); a T5 classifier instead gets each label's
 * name, through `tokenizer`, as the text it learns to generate.
 */
export async function loadRunModel(
  dir: string,
  task: TaskName,
  opts: { numLabels?: number; labels?: readonly string[]; tokenizer?: Tokenizer; seed: number; log: (line: string) => void; frozen?: FrozenTier },
): Promise<AnyModel> {
  requireModelDir(dir);
  const model = await loadPretrained(dir, { task: MODEL_TASK[task], numLabels: opts.numLabels ?? opts.labels?.length, seed: opts.seed, onWarning: opts.log, frozen: opts.frozen });
  try {
    if (isTextToText(model)) {
      if (!opts.tokenizer) throw new UsageError(`--model: ${dir} is a T5 text-to-text classifier; its label targets need the tokenizer`);
      setTextToTextLabels(model, opts.labels, opts.tokenizer);
    }
  } catch (e) {
    model.dispose();
    throw e instanceof UsageError ? e : new UsageError(`--model: ${dir}: ${(e as Error).message}`);
  }
  return model;
}

/** Where a trained model's task came from, in the order loadTrained looks. */
export type TaskSource = 'run.json' | '--task' | 'adapter_config.json' | 'config.json';

/** A trained model ready to use: base model, adapter loaded when given, task and labels resolved. */
export interface TrainedModel {
  readonly model: AnyModel;
  readonly tokenizer: Tokenizer;
  readonly task: TaskName;
  /** 'config.json' when nothing named the task and the model's architecture decided it. */
  readonly taskSource: TaskSource;
  /** Classification label names in index order. */
  readonly labels?: string[];
  /** Where `labels` came from (run.json, or the model's config.json), for messages about them. */
  readonly labelOrigin?: LabelOrigin;
  /** The run.json found with the adapter or model, if any. */
  readonly run?: RunFile;
}

// SEQ_2_SEQ_LM (a T5 adapter) is absent on purpose: the T5 model's own default task, classification, decides.
const TASK_OF_PEFT: Readonly<Record<string, TaskName>> = { SEQ_CLS: 'classification', CAUSAL_LM: 'causal-lm' };

/** What loadTrained decides before it loads anything: the task, labels and where the base goes. */
export interface TrainedPlan {
  readonly config: ModelConfig;
  readonly adapterConfig?: Awaited<ReturnType<typeof readAdapterConfig>>;
  readonly task: TaskName;
  readonly taskSource: TaskSource;
  readonly labels?: string[];
  readonly labelOrigin?: LabelOrigin;
  readonly run?: RunFile;
  readonly frozen: FrozenTier;
}

/** The options of loadTrained. */
export interface TrainedOptions {
  model: string;
  adapter?: string;
  task?: TaskName;
  log: (line: string) => void;
  /** The frozen base's storage (--quantize); default: the adapter's run.json, else the base on the heap. 'auto' also takes the frozen tier where it saves memory. */
  quantize?: QuantizeMode | 'auto';
}

/**
 * loadTrained's decisions from the folders' JSON files alone (config.json, adapter_config.json,
 * run.json): a memory estimate reads them before any weight is loaded.
 */
export async function planTrained(o: TrainedOptions): Promise<TrainedPlan> {
  requireModelDir(o.model);
  if (o.adapter !== undefined && !existsSync(join(o.adapter, 'adapter_config.json'))) {
    throw new UsageError(`--adapter: ${o.adapter} is not a PEFT adapter folder (no adapter_config.json)`);
  }
  const adapterRun = o.adapter !== undefined ? await readRunFile(o.adapter) : undefined;
  const runDir = adapterRun ? o.adapter! : o.model;
  const run = adapterRun ?? (await readRunFile(o.model));
  const config = await readModelConfig(o.model);
  const adapterConfig = o.adapter !== undefined ? await readAdapterConfig(o.adapter) : undefined;
  const peftTask = adapterConfig !== undefined ? TASK_OF_PEFT[adapterConfig.taskType ?? ''] : undefined;
  const [task, taskSource] = resolveTask(run, o.task, peftTask, config);
  const { labels, labelOrigin } = task === 'classification' ? trainedLabels(run, runDir, config, o.model) : {};
  const quantize = o.quantize === 'auto' ? (adapterRun?.config.quantize ?? 'none') : o.quantize; // a merged folder's run.json does not re-quantize it
  const needsBaseWeight = adapterConfig !== undefined && (adapterConfig.useDora || mutatesBase(adapterConfig.initLoraWeights));
  const frozen = quantize === undefined ? undefined : frozenTierFor(config, { adapters: true, needsBaseWeight, quantize }, o.log);
  return { config, adapterConfig, task, taskSource, labels, labelOrigin, run, frozen };
}

/**
 * Loads `modelDir` (with the adapter in `adapterDir`, if given) for evaluation, generation or
 * merging. The task and labels come from run.json next to the adapter or model, else `task`,
 * else adapter_config.json's task_type, else the model's config. `ready` hands over what the caller
 * already has (planTrained's plan, the tokenizer), so nothing is read twice.
 *
 * @example
 *   const { model, tokenizer, labels } = await loadTrained({ model: 'models/gpt2', adapter: 'runs/a', log: console.error });
 */
export async function loadTrained(o: TrainedOptions, ready: { plan?: TrainedPlan; tokenizer?: Tokenizer } = {}): Promise<TrainedModel> {
  const { task, taskSource, labels, labelOrigin, run, frozen } = ready.plan ?? (await planTrained(o));
  const tokenizer = ready.tokenizer ?? (await loadRunTokenizer(o.model));
  // With an adapter, a head the base checkpoint lacks comes from the adapter: no "newly initialised" notice.
  const model = await loadRunModel(o.model, task, { labels, tokenizer, seed: run?.config.seed ?? 0, log: o.adapter === undefined ? o.log : () => {}, frozen });
  try {
    if (o.adapter !== undefined) await loadAdapter(model, o.adapter);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, task, taskSource, labels, labelOrigin, run };
}

/** run.json wins, then --task, then the adapter's task_type, then the architecture in config.json. */
function resolveTask(run: RunFile | undefined, option: TaskName | undefined, peftTask: TaskName | undefined, config: ModelConfig): [TaskName, TaskSource] {
  if (run?.config.task !== undefined) return [run.config.task, 'run.json'];
  if (option !== undefined) return [option, '--task'];
  if (peftTask !== undefined) return [peftTask, 'adapter_config.json'];
  return [defaultTask(config) === 'causal-lm' ? 'causal-lm' : 'classification', 'config.json'];
}

/** Label names from run.json (in `runDir`), else config.json's id2label, else "0", "1", … for num_labels. */
function trainedLabels(run: RunFile | undefined, runDir: string, config: ModelConfig, modelDir: string): { labels: string[]; labelOrigin: LabelOrigin } {
  if (run?.labels) return { labels: run.labels, labelOrigin: { description: 'the labels the model was trained with', listedAs: `run.json in ${runDir}` } };
  const labels = Array.from({ length: config.numLabels }, (_, i) => config.id2label?.[i] ?? String(i));
  const listedAs = `${config.id2label ? 'id2label' : 'num_labels'} in ${join(modelDir, 'config.json')}`;
  return { labels, labelOrigin: { description: "the model's labels", listedAs } };
}

// A training run held in memory, one step at a time: what a browser page (or a Web Worker) drives.
// It reads no files and writes none; the model, tokenizer and data come as FileSets and texts. The
// settings go through the same trainConfig as the CLI's and each step is the trainer's own
// optimizerStep on the same seeded batches, so a session's losses are the Node trainer's losses.
import { tf } from '../engine/tf.js';
import { setTraining } from '../adapters/inject.js';
import { adapterFiles } from '../adapters/peft-bytes.js';
import type { FileSet } from '../io/file-set.js';
import { parseModelConfig, type ModelConfig } from '../io/hf-config.js';
import { tokenizerFromFiles, type Tokenizer } from '../io/tokenizer.js';
import { loadPretrainedFromFiles } from '../models/from-files.js';
import { generate } from '../models/generate.js';
import { setTextToTextLabels } from '../models/t5-classifier.js';
import type { AnyModel } from '../models/types.js';
import { batchLogits, BatchStream, hostBatch, type RunExample } from '../data/batches.js';
import { mixSeed } from '../data/batch.js';
import type { ClassificationExample } from '../data/examples.js';
import { splitExamples } from '../data/split.js';
import { causalLmFromText, classificationFromText, type TextFile } from '../data/text.js';
import { tokenizeCausalLm, tokenizeClassification, type TokenEncoder } from '../data/tokenize.js';
import { evalBatches, evaluate, type EvalMetrics } from './evaluate.js';
import { usesAdapters, type MethodSetup } from './methods.js';
import { setupForConfig } from './method-setup.js';
import { trainConfig, type ResolvedTrainConfig, type TaskName } from './config.js';
import { layerDiagnostics, type LayerDiagnostic } from './diagnostics.js';
import { UsageError } from './errors.js';
import { learningRate, validateSchedule, type ScheduleOptions } from './schedule.js';
import { optimizerStep } from './step.js';
import { planSteps, type StepPlan } from './step-plan.js';

/** Positions the model can attend over (rotary models: as configured). */
export function maxPositionsOf(c: ModelConfig): number {
  if (c.modelType === 'gpt2') return c.nPositions;
  if (c.modelType === 'roberta') return c.maxPositionEmbeddings - 2; // positions start at padding_idx + 1
  if (c.modelType === 't5') return Infinity; // relative position buckets have no table to run out of
  return c.maxPositionEmbeddings;
}

/** A run's tokenized data. */
export interface RunData {
  readonly train: RunExample[];
  readonly eval: RunExample[];
  /** Classification label names in index order. */
  readonly labels?: string[];
}

const SPLIT_SEED_STREAM = 0x45564c; // "EVL": the causal-LM split's seed, apart from the batches'

/**
 * Dataset texts → tokenized train and eval examples, as `lorapro train --train FILE [--eval FILE]`
 * makes them: without an eval file a seeded `validationFraction` is held out (stratified for
 * classification). Problems name the file and line.
 */
export function runDataFromText(o: { task: TaskName; train: TextFile; eval?: TextFile; seed: number; validationFraction: number; maxLength: number }, tok: TokenEncoder, log: (line: string) => void): RunData {
  if (o.task === 'classification') {
    const data = classificationFromText(o.train, o.eval, { seed: o.seed, validationFraction: o.validationFraction, onWarning: log });
    return { train: tokenizeClassification(data.train, tok, o.maxLength), eval: tokenizeClassification(data.eval, tok, o.maxLength), labels: data.labels };
  }
  const onSkip = (file: string) => (line: number, reason: string) => log(`${file} line ${line}: left out (${reason})`);
  const all = tokenizeCausalLm(causalLmFromText(o.train, { onWarning: log }), tok, o.maxLength, { file: o.train.name, onSkip: onSkip(o.train.name) });
  if (all.length === 0) throw new UsageError(`${o.train.name}: no example has tokens to train on after truncation to ${o.maxLength} tokens`);
  if (o.eval !== undefined) return { train: all, eval: tokenizeCausalLm(causalLmFromText(o.eval, { onWarning: log }), tok, o.maxLength, { file: o.eval.name, onSkip: onSkip(o.eval.name) }) };
  const split = splitExamples(all, { seed: mixSeed(o.seed, SPLIT_SEED_STREAM), validationFraction: o.validationFraction });
  return { train: split.train, eval: split.eval };
}

/** Examples already split and labelled (a built-in task as `lorapro` serves it). */
export interface LabelledSplits {
  readonly name: string;
  readonly labels: string[];
  readonly train: readonly ClassificationExample[];
  readonly validation: readonly ClassificationExample[];
}

export type SessionData = { readonly train: TextFile; readonly eval?: TextFile } | { readonly splits: LabelledSplits };

export interface SessionInputs {
  /** The model folder: config.json, model.safetensors (or shards), tokenizer.json. */
  readonly model: FileSet;
  readonly data: SessionData;
  /**
   * Training options by the names `trainConfig` takes (method, rank, alpha, lr, maxSteps or epochs,
   * batchSize, seed, …), with the CLI's defaults. `lr` must be a number here: a search is a CLI job.
   */
  readonly options: Readonly<Record<string, unknown>>;
  /** Notices (clamped lengths, new heads). Default none. */
  readonly log?: (line: string) => void;
}

/** One optimiser step, read back. */
export interface SessionStep {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly tokens: number;
  /** Training tokens per second of this step alone. */
  readonly tokensPerSec: number;
  /** Training seconds so far (evaluations not included). */
  readonly elapsedS: number;
  /** The step's gradient or loss was not finite: the run has diverged. */
  readonly diverged: boolean;
}

export interface SessionEval {
  readonly step: number;
  readonly metrics: EvalMetrics;
  /** Per adapted layer, how close LoRA's and LoRA-Pro's updates are to the full gradient (adapter methods). */
  readonly diagnostic?: LayerDiagnostic[];
}

/**
 * A training run in memory, stepped by its owner.
 *
 * @example
 *   const session = await TrainSession.create({ model: files, data: { train: { name: 'train.csv', text } }, options: { task: 'classification', method: 'lora-pro', lr: 1e-3, maxSteps: 100 } });
 *   while (!session.done) console.log((await session.next()).loss);
 *   const adapter = await session.adapterFiles(); // adapter_config.json + adapter_model.safetensors
 */
export class TrainSession {
  readonly plan: StepPlan;
  private readonly schedule: ScheduleOptions;
  private readonly stream: BatchStream;
  private steps = 0;
  private trainedS = 0;
  private tokenCount = 0;
  private disposed = false;

  private constructor(
    readonly config: ResolvedTrainConfig,
    readonly model: AnyModel,
    readonly tokenizer: Tokenizer,
    readonly setup: MethodSetup,
    readonly data: RunData,
    readonly padId: number,
    readonly maxLength: number,
  ) {
    this.plan = planSteps(config, data.train.length);
    this.schedule = { base: config.lr, schedule: config.schedule, warmupSteps: config.warmupSteps, totalSteps: this.plan.totalSteps };
    try {
      validateSchedule(this.schedule);
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (the run has ${this.plan.totalSteps} steps)`);
    }
    this.stream = new BatchStream(data.train, { batchSize: config.batchSize, seed: config.seed, padId }, { epoch: 0, batchIndex: 0 });
  }

  /** Reads the model folder and the data, checks the settings, and sets up the method. */
  static async create(inputs: SessionInputs): Promise<TrainSession> {
    await tf.ready();
    const log = inputs.log ?? (() => {});
    const trainName = 'splits' in inputs.data ? `builtin:${inputs.data.splits.name}` : inputs.data.train.name;
    const requested = trainConfig({ task: 'classification', model: inputs.model.name, train: trainName, out: '(in memory)', ...inputs.options });
    if (typeof requested.lr !== 'number') throw new UsageError(`lr must be a number in a session (a learning-rate search runs on the command line), got ${JSON.stringify(requested.lr)}`);
    const config = requested as ResolvedTrainConfig;
    const tokenizer = tokenizerFromFiles(inputs.model);
    if (tokenizer.padTokenId === undefined) throw new UsageError(`the tokenizer in ${inputs.model.name} has neither a pad token nor an EOS token to pad batches with`);
    const modelConfig = inputs.model.json('config.json');
    const positions = modelConfig === undefined ? Number.POSITIVE_INFINITY : maxPositionsOf(parseModelConfig(modelConfig, inputs.model.path('config.json'))); // a missing config.json is reported by the loader
    const maxLength = Math.min(config.maxLength, positions);
    if (maxLength < config.maxLength) log(`maxLength ${config.maxLength} exceeds the model's ${positions} positions; using ${maxLength}`);
    const data = sessionData(inputs.data, config, maxLength, tokenizer, log);
    if (data.train.length === 0) throw new UsageError(`${trainName}: no training examples`);
    const task = config.task === 'classification' ? 'sequence-classification' : 'causal-lm';
    const { model } = await loadPretrainedFromFiles(inputs.model, { task, numLabels: data.labels?.length, seed: config.seed, onWarning: log });
    try {
      setTextToTextLabels(model, data.labels, tokenizer); // T5: each label's name is its target text
      return new TrainSession(config, model, tokenizer, setupForConfig(model, config, { data, padId: tokenizer.padTokenId }), data, tokenizer.padTokenId, maxLength);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get step(): number {
    return this.steps;
  }

  get done(): boolean {
    return this.steps >= this.plan.totalSteps;
  }

  /** True when this step (1-based) is one the CLI would evaluate at. */
  evaluatesAt(step: number): boolean {
    return this.data.eval.length > 0 && (step % this.plan.evalEvery === 0 || step === this.plan.totalSteps);
  }

  /** Trains one optimiser step (gradAccum micro-batches) and reads its loss back. */
  async next(): Promise<SessionStep> {
    this.checkLive();
    if (this.done) throw new Error(`the session has run all ${this.plan.totalSteps} steps`);
    const started = performance.now();
    const lr = learningRate(this.steps, this.schedule);
    const micro = Array.from({ length: this.config.gradAccum }, () => this.stream.next());
    const { loss, result } = await optimizerStep(this.model, this.setup, micro, lr);
    const value = (await loss.data())[0];
    loss.dispose();
    const seconds = (performance.now() - started) / 1000;
    const tokens = micro.reduce((n, b) => n + b.tokens, 0);
    this.steps += 1;
    this.trainedS += seconds;
    this.tokenCount += tokens;
    return { step: this.steps, loss: value, lr, gradNorm: result.gradNorm, tokens, tokensPerSec: tokens / Math.max(seconds, 1e-9), elapsedS: this.trainedS, diverged: result.skipped || !Number.isFinite(value) };
  }

  /** Metrics on the eval examples, and the per-layer gradient diagnostic when the method has adapters. */
  async evaluate(): Promise<SessionEval> {
    this.checkLive();
    if (this.data.eval.length === 0) throw new Error('there are no evaluation examples');
    const metrics = await evaluate(this.model, this.data.eval, this.config.batchSize, this.padId);
    const diagnostic = this.config.diagnostics && this.setup.diagnosable && this.setup.pairs.length > 0 ? await layerDiagnostics(this.model, this.setup.pairs, evalBatches(this.data.eval, this.config.batchSize, this.padId)[0]) : undefined;
    return { step: this.steps, metrics, diagnostic };
  }

  /** Class probabilities of `text` (classification), by label name. */
  async classify(text: string): Promise<{ label: string; probability: number }[]> {
    this.checkLive();
    if (this.config.task !== 'classification') throw new Error('classify needs a classification session');
    const [example] = tokenizeClassification([{ text, label: 0, line: 1 }], this.tokenizer, this.maxLength);
    setTraining(this.model, false);
    const probs = tf.tidy(() => tf.softmax(batchLogits(this.model, hostBatch([example], this.padId))));
    const values = await probs.data();
    probs.dispose();
    return this.data.labels!.map((label, i) => ({ label, probability: values[i] })).sort((a, b) => b.probability - a.probability);
  }

  /** Greedy continuation of `prompt` (causal LM). */
  async complete(prompt: string, maxNewTokens = 40): Promise<string> {
    this.checkLive();
    if (this.model.task !== 'causal-lm') throw new Error('complete needs a causal-lm session');
    setTraining(this.model, false);
    const ids = this.tokenizer.encode(prompt, { addSpecialTokens: true });
    const room = Math.max(0, Math.min(maxNewTokens, this.model.maxPositions - ids.length));
    const { ids: out } = await generate(this.model, ids, { maxNewTokens: room });
    return this.tokenizer.decode(out, { skipSpecialTokens: true });
  }

  /** The trained adapter as PEFT's two files (adapter methods), keyed by file name. */
  async adapterFiles(): Promise<Map<string, Uint8Array>> {
    this.checkLive();
    if (!usesAdapters(this.config.method)) throw new Error(`method ${this.config.method} trains the whole model; it has no adapter to save`);
    return adapterFiles(this.model, { baseModelNameOrPath: this.config.model });
  }

  /** Frees the model's weights and the optimiser's state. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.setup.optimizer.dispose();
    this.model.dispose();
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('the session was disposed');
  }
}

/** A built-in task's train and validation splits, tokenized (its validation split is the eval set). */
export function splitsRunData(splits: LabelledSplits, task: TaskName, tok: TokenEncoder, maxLength: number): RunData {
  if (task !== 'classification') throw new UsageError(`built-in task ${splits.name} is a classification task; --task must be classification, got ${task}`);
  return { train: tokenizeClassification(splits.train, tok, maxLength), eval: tokenizeClassification(splits.validation, tok, maxLength), labels: [...splits.labels] };
}

function sessionData(data: SessionData, config: ResolvedTrainConfig, maxLength: number, tok: TokenEncoder, log: (line: string) => void): RunData {
  if ('splits' in data) return splitsRunData(data.splits, config.task, tok, maxLength);
  return runDataFromText({ task: config.task, train: data.train, eval: data.eval, seed: config.seed, validationFraction: config.validationFraction, maxLength }, tok, log);
}

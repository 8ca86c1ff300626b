// A run's data: dataset files → token ids (train and eval), batches of host arrays, and the loss of
// a batch as the model's task computes it. Tensors are made only inside `batchLoss` / `classify`,
// so callers' tf.tidy disposes them.
import { statSync } from 'node:fs';
import { tf } from '../engine/tf.js';
import type { AnyModel } from '../models/types.js';
import {
  DataProblems,
  indexLabels,
  loadCausalLmData,
  loadClassificationData,
  padBatch,
  readRecords,
  splitExamples,
  toCausalLmExamples,
  toLabelledTexts,
  tokenizeCausalLm,
  tokenizeClassification,
  type LabelOrigin,
  type RawRecord,
  type TokenEncoder,
  type TokenizedClassification,
  type TokenizedLm,
} from './data.js';
import { IGNORE_INDEX, makeBatches, mixSeed, nextPosition, type DataPosition } from './data-batch.js';
import { UsageError } from './run-errors.js';
import type { TaskName } from './run-config.js';
import { loadBuiltinTask, parseTaskSpec } from '../tasks/builtin.js';

/** One tokenized example: per-token labels (causal LM) or a class index (classification). */
export type RunExample = TokenizedClassification | TokenizedLm;

export interface RunData {
  readonly train: RunExample[];
  readonly eval: RunExample[];
  /** Classification label names in index order. */
  readonly labels?: string[];
}

/** A missing file (or a folder where a file belongs) is a usage error naming the option it came from. */
export function requireFile(path: string, option: string): void {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`${option}: file not found: ${path}`);
  if (!stat.isFile()) throw new UsageError(`${option}: ${path} is not a file`);
}

/** A built-in task as a data source: `builtin:NAME`, optionally `builtin:NAME?max-train=N`. */
export interface BuiltinDataSpec {
  readonly name: string;
  readonly maxTrain?: number;
}

/**
 * `builtin:NAME[?max-train=N]` → the task and its training cap; any other string (a file) →
 * undefined. An unknown task or a bad cap is a UsageError.
 *
 * @example
 *   builtinDataSpec('builtin:spam?max-train=200') // { name: 'spam', maxTrain: 200 }
 */
export function builtinDataSpec(spec: string): BuiltinDataSpec | undefined {
  if (!spec.startsWith('builtin:')) return undefined;
  const [head, query] = spec.split('?', 2);
  let parsed: { builtin: string } | undefined;
  try {
    parsed = parseTaskSpec(head);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (query === undefined) return { name: parsed!.builtin };
  const m = /^max-train=(\d+)$/.exec(query);
  if (!m || Number(m[1]) < 1) throw new UsageError(`${spec}: the only option of a built-in task is ?max-train=N with N ≥ 1, got "?${query}"`);
  return { name: parsed!.builtin, maxTrain: Number(m[1]) };
}

/** The spec string of a built-in task (the inverse of builtinDataSpec). */
export function builtinSpecString(spec: BuiltinDataSpec): string {
  return `builtin:${spec.name}${spec.maxTrain !== undefined ? `?max-train=${spec.maxTrain}` : ''}`;
}

/** One split of a built-in task, tokenized (label indices follow the task's sorted label set). */
export function builtinSplit(spec: BuiltinDataSpec, split: 'train' | 'validation' | 'test', tok: TokenEncoder, maxLength: number): { examples: TokenizedClassification[]; labels: string[] } {
  const task = loadBuiltinTask(spec.name, { maxTrain: spec.maxTrain });
  return { examples: tokenizeClassification(task[split], tok, maxLength), labels: task.labels };
}

function loadBuiltinRunData(spec: BuiltinDataSpec, o: { task: TaskName; eval?: string; maxLength: number }, tok: TokenEncoder): RunData {
  if (o.task !== 'classification') throw new UsageError(`built-in task ${spec.name} is a classification task; --task must be classification, got ${o.task}`);
  if (o.eval !== undefined) throw new UsageError(`a built-in task brings its own validation split; drop --eval ${o.eval}`);
  const task = loadBuiltinTask(spec.name, { maxTrain: spec.maxTrain });
  return { train: tokenizeClassification(task.train, tok, o.maxLength), eval: tokenizeClassification(task.validation, tok, o.maxLength), labels: task.labels };
}

const SPLIT_SEED_STREAM = 0x45564c; // "EVL": the causal-LM split's seed, apart from the batches'

/**
 * Reads, checks and tokenizes the training (and evaluation) files. Without an eval file a seeded
 * `validationFraction` of the training file is held out (stratified for classification). A
 * `train` of `builtin:NAME` takes the built-in task's train split and its validation split as eval.
 */
export function loadRunData(
  o: { task: TaskName; train: string; eval?: string; seed: number; validationFraction: number; maxLength: number },
  tok: TokenEncoder,
  log: (line: string) => void,
): RunData {
  const builtin = builtinDataSpec(o.train);
  if (builtin) return loadBuiltinRunData(builtin, o, tok);
  requireFile(o.train, '--train');
  if (o.eval !== undefined) requireFile(o.eval, '--eval');
  if (o.task === 'classification') {
    const data = loadClassificationData(o.train, o.eval, { seed: o.seed, validationFraction: o.validationFraction });
    return { train: tokenizeClassification(data.train, tok, o.maxLength), eval: tokenizeClassification(data.eval, tok, o.maxLength), labels: data.labels };
  }
  const onSkip = (file: string) => (line: number, reason: string) => log(`${file} line ${line}: left out (${reason})`);
  const all = tokenizeCausalLm(loadCausalLmData(o.train), tok, o.maxLength, { file: o.train, onSkip: onSkip(o.train) });
  if (all.length === 0) throw new UsageError(`${o.train}: no example has tokens to train on after truncation to ${o.maxLength} tokens`);
  if (o.eval !== undefined) {
    return { train: all, eval: tokenizeCausalLm(loadCausalLmData(o.eval), tok, o.maxLength, { file: o.eval, onSkip: onSkip(o.eval) }) };
  }
  const split = splitExamples(all, { seed: mixSeed(o.seed, SPLIT_SEED_STREAM), validationFraction: o.validationFraction });
  return { train: split.train, eval: split.eval };
}

export interface EvalDataOptions {
  readonly task: TaskName;
  readonly maxLength: number;
  /** Classification: the trained label names in index order, and where they came from. */
  readonly labels?: readonly string[];
  readonly labelOrigin?: LabelOrigin;
  /**
   * The model folder whose config.json chose causal-lm because nothing named a task: data shaped
   * for classification is then refused instead of silently scored as text.
   */
  readonly taskGuessedFrom?: string;
}

/** Records from the start of a file that show its shape. */
const SHAPE_RECORDS = 5;

/** True when the file's first records carry a "label" field, as classification records do. */
export function looksLikeClassification(records: readonly RawRecord[]): boolean {
  return records.slice(0, SHAPE_RECORDS).some((r) => 'label' in r.fields);
}

/**
 * An evaluation file on its own (the `eval` command): classification labels must be among the
 * trained `labels`, each unknown one reported with its line and where the label set came from.
 */
export function loadEvalData(path: string, o: EvalDataOptions, tok: TokenEncoder): RunExample[] {
  requireFile(path, '--data');
  const problems = new DataProblems(path);
  const records = readRecords(path, problems);
  if (o.task === 'causal-lm') {
    if (o.taskGuessedFrom !== undefined && looksLikeClassification(records)) {
      throw new UsageError(
        `--data: ${path} looks like classification data (its records have a "label" field), but the model in ${o.taskGuessedFrom} has no trained classifier (its config.json makes it a causal LM); ` +
          'pass --adapter RUN_DIR of a classification run, or --task causal-lm to score the text as language modelling',
      );
    }
    const examples = toCausalLmExamples(records, problems);
    problems.throwIfAny();
    return tokenizeCausalLm(examples, tok, o.maxLength, { file: path });
  }
  if (o.labels === undefined) throw new UsageError('classification eval needs the label set: pass --adapter with a run folder holding run.json');
  const texts = toLabelledTexts(records, problems);
  const examples = indexLabels(texts, o.labels, problems, o.labelOrigin ?? { description: 'the label set', listedAs: 'labels' });
  problems.throwIfAny();
  return tokenizeClassification(examples, tok, o.maxLength);
}

/** A padded batch as host arrays, plus what it costs to train on. */
export interface HostBatch {
  readonly ids: number[][]; // [B, T]
  readonly mask: number[][]; // [B, T]
  readonly tokenLabels?: number[][]; // [B, T], causal LM
  readonly classLabels?: number[]; // [B], classification
  readonly typeIds?: number[][]; // [B, T], BERT text pairs
  /** Real (unpadded) tokens. */
  readonly tokens: number;
  /** Tokens the causal-LM loss averages over (labels[:, 1:] ≠ -100), or B for classification. */
  readonly lossWeight: number;
}

export function hostBatch(items: readonly RunExample[], padId: number): HostBatch {
  const padded = padBatch(items, padId);
  const tokens = items.reduce((n, e) => n + e.ids.length, 0);
  if ('label' in items[0]) {
    const classLabels = (items as TokenizedClassification[]).map((e) => e.label);
    return { ids: padded.ids, mask: padded.attentionMask, typeIds: padded.typeIds, classLabels, tokens, lossWeight: items.length };
  }
  const tokenLabels = padded.labels!;
  const lossWeight = tokenLabels.reduce((n, row) => n + row.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
  return { ids: padded.ids, mask: padded.attentionMask, tokenLabels, tokens, lossWeight };
}

const int2d = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');

/** The model's mean loss on a batch (tensors made here; run it inside tf.tidy). */
export function batchLoss(model: AnyModel, b: HostBatch, training: boolean): tf.Scalar {
  if (model.task === 'causal-lm') return model.loss(int2d(b.ids), int2d(b.tokenLabels!), int2d(b.mask), { training });
  const typeIds = b.typeIds && int2d(b.typeIds);
  return model.loss(int2d(b.ids), int2d(b.mask), tf.tensor1d(b.classLabels!, 'int32'), { tokenTypeIds: typeIds, training });
}

/** Classification logits [B, numLabels] of a batch (inside tf.tidy). */
export function batchLogits(model: AnyModel, b: HostBatch): tf.Tensor2D {
  if (model.task !== 'sequence-classification') throw new Error('batchLogits needs a classification model');
  return model.classify(int2d(b.ids), int2d(b.mask), { tokenTypeIds: b.typeIds && int2d(b.typeIds) });
}

/**
 * The training batches in order, epoch after epoch, from a resumable position: the batches of an
 * epoch are a pure function of (seed, epoch), so a position is all a checkpoint needs.
 */
export class BatchStream {
  private batches: number[][];
  private pos: DataPosition;

  constructor(
    private readonly items: readonly RunExample[],
    private readonly opts: { batchSize: number; seed: number; padId: number },
    start: DataPosition,
  ) {
    this.pos = start;
    this.batches = this.epochBatches(start.epoch);
    if (!(Number.isInteger(start.batchIndex) && start.batchIndex >= 0 && start.batchIndex < this.batches.length)) {
      throw new Error(`data position batch ${start.batchIndex} is outside epoch ${start.epoch}'s ${this.batches.length} batches`);
    }
  }

  private epochBatches(epoch: number): number[][] {
    return makeBatches(this.items, { batchSize: this.opts.batchSize, seed: this.opts.seed, epoch });
  }

  /** The next micro-batch to run. */
  get position(): DataPosition {
    return this.pos;
  }

  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  /** The next micro-batch, without moving past it. */
  peek(): HostBatch {
    return hostBatch(this.batches[this.pos.batchIndex].map((i) => this.items[i]), this.opts.padId);
  }

  next(): HostBatch {
    const batch = this.batches[this.pos.batchIndex];
    const next = nextPosition(this.pos, this.batches.length);
    if (next.epoch !== this.pos.epoch) this.batches = this.epochBatches(next.epoch);
    this.pos = next;
    return hostBatch(batch.map((i) => this.items[i]), this.opts.padId);
  }
}

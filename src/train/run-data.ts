// A run's data: dataset files → token ids (train and eval), batches of host arrays, and the loss of
// a batch as the model's task computes it. Tensors are made only inside `batchLoss` / `classify`,
// so callers' tf.tidy disposes them.
import { statSync } from 'node:fs';
import type { RunExample } from '../data/batches.js';
import {
  DataProblems,
  indexLabels,
  readDatasetFile,
  readRecords,
  toCausalLmExamples,
  toLabelledTexts,
  tokenizeCausalLm,
  tokenizeClassification,
  type LabelOrigin,
  type RawRecord,
  type TokenEncoder,
  type TokenizedClassification,
} from '../data/files.js';
import { runDataFromText, splitsRunData, type RunData } from './session.js';
import { UsageError } from './errors.js';
import type { TaskName } from './config.js';
import { loadBuiltinTask, parseTaskSpec } from '../tasks/builtin.js';

export { BatchStream, batchLogits, batchLoss, hostBatch, type HostBatch, type RunExample } from '../data/batches.js';

export type { RunData } from './session.js';

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
  return splitsRunData(loadBuiltinTask(spec.name, { maxTrain: spec.maxTrain }), o.task, tok, o.maxLength);
}

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
  return runDataFromText({ ...o, train: readDatasetFile(o.train), eval: o.eval === undefined ? undefined : readDatasetFile(o.eval) }, tok, log);
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


// Datasets from files (Node): read, parse, check every record, and report all problems at once.
// The pure pieces live in data-*.ts so a browser build can use them without `fs`:
//   data-read      text → records (JSONL, JSON array, CSV) with line numbers
//   data-examples  records → classification / causal-LM examples, label set
//   data-split     seeded (stratified) train/validation split
//   data-tokenize  examples → token ids and -100-masked labels
//   data-batch     length-bucketed resumable batches, padding
import { readFileSync } from 'node:fs';
import { DataProblems, DatasetError, Rank } from './data-problems.js';
import { formatFromPath, parseRecords, type DataFormat, type RawRecord } from './data-read.js';
import { indexLabels, labelSet, toCausalLmExamples, toLabelledTexts, trainingFileLabels, type CausalLmExample, type ClassificationExample } from './data-examples.js';
import { splitExamples } from './data-split.js';

export * from './data-problems.js';
export * from './data-read.js';
export * from './data-examples.js';
export * from './data-split.js';
export * from './data-tokenize.js';
export * from './data-batch.js';
/** The spec's name for the tokenizer shape; `TokenEncoder` avoids shadowing the DOM's TextEncoder. */
export type { TokenEncoder as TextEncoder } from './data-tokenize.js';

export interface LoadOptions {
  /** Overrides the format the extension names. */
  readonly format?: DataFormat;
}

export interface ClassificationLoadOptions extends LoadOptions {
  /** Seeds the validation split when there is no eval file. */
  readonly seed: number;
  /** Share of the training file held out when there is no eval file; default 0.1. */
  readonly validationFraction?: number;
}

export interface ClassificationData {
  readonly train: ClassificationExample[];
  readonly eval: ClassificationExample[];
  /** Label names in index order; save them with the run (they become the model's id2label). */
  readonly labels: string[];
}

/** Reads a dataset file into records; unreadable records are added to `problems`. */
export function readRecords(path: string, problems: DataProblems, format?: DataFormat): RawRecord[] {
  const fmt = format ?? formatFromPath(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const message = `${path}: cannot read the dataset file (${(e as Error).message})`;
    throw new DatasetError(path, [], message);
  }
  const records = parseRecords(text, fmt, problems);
  if (records.length === 0 && problems.count === 0) problems.add({ message: 'the dataset has no records', rank: Rank.structure });
  return records;
}

/**
 * Loads a classification dataset: records {text, label} or {text_a, text_b, label}. The label set
 * comes from the training file; eval labels it lacks are errors. Without an eval file, a seeded,
 * stratified `validationFraction` of the training file is held out.
 *
 * @example
 *   const { train, eval: held, labels } = loadClassificationData('sst2/train.jsonl', undefined, { seed: 42 });
 */
export function loadClassificationData(trainPath: string, evalPath: string | undefined, options: ClassificationLoadOptions): ClassificationData {
  const { seed, validationFraction = 0.1, format } = options;
  if (!Number.isInteger(seed)) throw new Error(`loadClassificationData: seed must be an integer, got ${seed}`);
  const trainProblems = new DataProblems(trainPath);
  const trainTexts = toLabelledTexts(readRecords(trainPath, trainProblems, format), trainProblems);
  trainProblems.throwIfAny();

  const labels = labelSet(trainTexts);
  if (labels.length < 2) throw new DatasetError(trainPath, [], `${trainPath}: classification needs at least two labels in field "label", found only "${labels[0]}"`);
  const all = indexLabels(trainTexts, labels, trainProblems, trainingFileLabels(trainPath));
  if (evalPath === undefined) {
    const { train, eval: held } = splitExamples(all, { seed, validationFraction, stratifyBy: (e) => e.label });
    return { train, eval: held, labels };
  }
  const evalProblems = new DataProblems(evalPath);
  const evalTexts = toLabelledTexts(readRecords(evalPath, evalProblems, format), evalProblems);
  const held = indexLabels(evalTexts, labels, evalProblems, trainingFileLabels(trainPath));
  evalProblems.throwIfAny();
  return { train: all, eval: held, labels };
}

/**
 * Loads a causal-LM dataset: records {text}, {prompt, completion} or {messages: [{role, content}]}.
 * Split it with `splitExamples` when there is no eval file.
 *
 * @example
 *   const examples = loadCausalLmData('alpaca.jsonl'); // [{ kind: 'prompt', prompt, completion, line: 1 }, ...]
 */
export function loadCausalLmData(path: string, options: LoadOptions = {}): CausalLmExample[] {
  const problems = new DataProblems(path);
  const examples = toCausalLmExamples(readRecords(path, problems, options.format), problems);
  problems.throwIfAny();
  return examples;
}

// Datasets from files (Node): read, parse, check every record, and report all problems at once.
// The pure pieces live beside it in data/ so a browser build can use them without `fs`:
//   read       text → records (JSONL, JSON array, CSV) with line numbers
//   examples   records → classification / causal-LM examples, label set
//   split      seeded (stratified) train/validation split
//   tokenize   examples → token ids and -100-masked labels
//   batch      length-bucketed resumable batches, padding
import { readFileSync } from 'node:fs';
import { DatasetError, type DataProblems } from './problems.js';
import { decodeDatasetBytes, type DataFormat, type RawRecord } from './read.js';
import type { CausalLmExample } from './examples.js';
import { causalLmFromText, classificationFromText, recordsOf, type ClassificationLoadOptions, type ClassificationData, type LoadOptions, type TextFile } from './text.js';

export * from './problems.js';
export * from './read.js';
export * from './examples.js';
export * from './split.js';
export * from './tokenize.js';
export * from './batch.js';
/** The spec's name for the tokenizer shape; `TokenEncoder` avoids shadowing the DOM's TextEncoder. */
export type { TokenEncoder as TextEncoder } from './tokenize.js';

export type { ClassificationData, ClassificationLoadOptions, LoadOptions, TextFile } from './text.js';
export { causalLmFromText, classificationFromText, recordsOf } from './text.js';

/** Reads a dataset file into records; unreadable records are added to `problems`. */
export function readRecords(path: string, problems: DataProblems, format?: DataFormat): RawRecord[] {
  return recordsOf(readDatasetFile(path), problems, format);
}

/** A dataset file's text; an unreadable file, or one that is not UTF-8, is a DatasetError naming it. */
export function readDatasetFile(path: string): TextFile {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DatasetError(path, [], `${path}: cannot read the dataset file (${(e as Error).message})`);
  }
  return { name: path, text: decodeDatasetBytes(bytes, path) };
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
  return classificationFromText(readDatasetFile(trainPath), evalPath === undefined ? undefined : readDatasetFile(evalPath), options);
}

/**
 * Loads a causal-LM dataset: records {text}, {prompt, completion} or {messages: [{role, content}]}.
 * Split it with `splitExamples` when there is no eval file.
 *
 * @example
 *   const examples = loadCausalLmData('alpaca.jsonl'); // [{ kind: 'prompt', prompt, completion, line: 1 }, ...]
 */
export function loadCausalLmData(path: string, options: LoadOptions = {}): CausalLmExample[] {
  return causalLmFromText(readDatasetFile(path), options);
}

// Dataset text → examples, for files already read (Node reads them in data.ts; a browser page is
// handed them as dropped files). Every problem names the file and line, as for a file on disk.
import { DataProblems, DatasetError, Rank } from './problems.js';
import { formatFromPath, parseRecords, type DataFormat, type RawRecord } from './read.js';
import { indexLabels, labelledLines, labelSet, mixedLabelTypes, toCausalLmExamples, toLabelledTexts, trainingFileLabels, type CausalLmExample, type ClassificationExample } from './examples.js';
import { splitExamples } from './split.js';

/** A dataset file's name (its path, or a dropped file's name) and text; the extension names its format. */
export interface TextFile {
  readonly name: string;
  readonly text: string;
}

export interface LoadOptions {
  /** Overrides the format the extension names. */
  readonly format?: DataFormat;
  /** Where notices about usable but doubtful data go (labels 1 and "1" merged, labels a causal LM ignores). Default console.warn. */
  readonly onWarning?: (message: string) => void;
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

/** A dataset file's records; unreadable records are added to `problems`, an empty file is one. */
export function recordsOf(file: TextFile, problems: DataProblems, format?: DataFormat): RawRecord[] {
  const records = parseRecords(file.text, format ?? formatFromPath(file.name), problems);
  if (records.length === 0 && problems.count === 0) problems.add({ message: 'the dataset has no records', rank: Rank.structure });
  return records;
}

/** `loadClassificationData` for files already read. */
export function classificationFromText(trainFile: TextFile, evalFile: TextFile | undefined, options: ClassificationLoadOptions): ClassificationData {
  const { seed, validationFraction = 0.1, format, onWarning = console.warn } = options;
  if (!Number.isInteger(seed)) throw new Error(`loadClassificationData: seed must be an integer, got ${seed}`);
  const trainPath = trainFile.name;
  const trainProblems = new DataProblems(trainPath);
  const trainRecords = recordsOf(trainFile, trainProblems, format);
  const trainTexts = toLabelledTexts(trainRecords, trainProblems);
  trainProblems.throwIfAny();
  for (const m of mixedLabelTypes(trainRecords)) onWarning(`${trainPath}: ${m}`);

  const labels = labelSet(trainTexts);
  if (labels.length < 2) throw new DatasetError(trainPath, [], `${trainPath}: classification needs at least two labels in field "label", found only "${labels[0]}"`);
  const all = indexLabels(trainTexts, labels, trainProblems, trainingFileLabels(trainPath));
  if (evalFile === undefined) {
    const { train, eval: held } = splitExamples(all, { seed, validationFraction, stratifyBy: (e) => e.label });
    return { train, eval: held, labels };
  }
  const evalProblems = new DataProblems(evalFile.name);
  const evalRecords = recordsOf(evalFile, evalProblems, format);
  const evalTexts = toLabelledTexts(evalRecords, evalProblems);
  const held = indexLabels(evalTexts, labels, evalProblems, trainingFileLabels(trainPath));
  evalProblems.throwIfAny();
  for (const m of mixedLabelTypes(evalRecords)) onWarning(`${evalFile.name}: ${m}`);
  return { train: all, eval: held, labels };
}

/** `loadCausalLmData` for a file already read. */
export function causalLmFromText(file: TextFile, options: LoadOptions = {}): CausalLmExample[] {
  const problems = new DataProblems(file.name);
  const records = recordsOf(file, problems, options.format);
  const examples = toCausalLmExamples(records, problems);
  problems.throwIfAny();
  const labelled = labelledLines(records);
  if (labelled.length > 0) {
    const lines = labelled.length <= 5 ? labelled.join(', ') : `${labelled.slice(0, 5).join(', ')} and ${labelled.length - 5} more`;
    (options.onWarning ?? console.warn)(`${file.name}: ${labelled.length} record${labelled.length === 1 ? ' has' : 's have'} a "label" field (line${labelled.length === 1 ? '' : 's'} ${lines}), which causal-LM training ignores: it learns the text alone; to train on the labels, use the task classification`);
  }
  return examples;
}

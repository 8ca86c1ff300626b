// Seeded train/validation split for when no eval file is given; stratified by label when a key is
// given, so every class keeps its share in both parts. Deterministic for a seed.
import { Rng } from '../math/rng.js';
import { mixSeed } from './batch.js';

export interface SplitOptions<T> {
  readonly seed: number;
  /** Share of the examples held out for validation, in [0, 1). */
  readonly validationFraction: number;
  /** Class of an example; the split keeps each class's share (stratified). Omit for a plain shuffle. */
  readonly stratifyBy?: (example: T) => string | number;
}

/** Stream number for the split's RNG, apart from the epochs' streams (0, 1, 2, ...). */
const SPLIT_STREAM = 0x53504c54; // "SPLT"

/**
 * Splits `examples` into train and eval parts, each in the original order. Eval gets
 * round(n · validationFraction) examples (at least 1 when the fraction is positive and n ≥ 2),
 * shared among classes by largest remainder, and never the last example of a class.
 *
 * @example
 *   const { train, eval: held } = splitExamples(all, { seed: 0, validationFraction: 0.1, stratifyBy: (e) => e.label });
 */
export function splitExamples<T>(examples: readonly T[], options: SplitOptions<T>): { train: T[]; eval: T[] } {
  const { seed, validationFraction: f, stratifyBy } = options;
  if (!Number.isInteger(seed)) throw new Error(`split: seed must be an integer, got ${seed}`);
  if (typeof f !== 'number' || !(f >= 0 && f < 1)) throw new Error(`validationFraction must be a number in [0, 1), got ${f}`);
  const n = examples.length;
  let nEval = Math.round(n * f);
  if (f > 0 && n >= 2) nEval = Math.min(Math.max(nEval, 1), n - 1);

  const classes = new Map<string | number, number[]>(); // class → example indices in file order
  examples.forEach((e, i) => {
    const key = stratifyBy ? stratifyBy(e) : 0;
    const members = classes.get(key);
    if (members) members.push(i);
    else classes.set(key, [i]);
  });
  const groups = [...classes.values()]; // in order of first appearance: deterministic
  const quotas = shareOut(nEval, groups.map((g) => g.length));

  const rng = new Rng(mixSeed(seed, SPLIT_STREAM));
  const held = new Set<number>();
  groups.forEach((members, c) => {
    for (const i of rng.shuffle([...members]).slice(0, quotas[c])) held.add(i);
  });
  const train: T[] = [];
  const evalPart: T[] = [];
  examples.forEach((e, i) => (held.has(i) ? evalPart : train).push(e));
  return { train, eval: evalPart };
}

/**
 * Shares `total` among groups in proportion to their sizes (Hamilton's largest-remainder method),
 * giving no group more than size − 1 so each keeps a training example.
 */
export function shareOut(total: number, sizes: readonly number[]): number[] {
  const n = sizes.reduce((a, b) => a + b, 0);
  if (n === 0) return sizes.map(() => 0);
  const exact = sizes.map((s) => (total * s) / n);
  const quotas = exact.map((q, c) => Math.min(Math.floor(q), Math.max(sizes[c] - 1, 0)));
  let left = total - quotas.reduce((a, b) => a + b, 0);
  // Largest remainder first; ties go to the earlier group.
  const byRemainder = exact.map((q, c) => c).sort((a, b) => exact[b] - quotas[b] - (exact[a] - quotas[a]) || a - b);
  for (let progressed = true; left > 0 && progressed; ) {
    progressed = false;
    for (const c of byRemainder) {
      if (left > 0 && quotas[c] < sizes[c] - 1) {
        quotas[c]++;
        left--;
        progressed = true;
      }
    }
  }
  return quotas;
}

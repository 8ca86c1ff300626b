// Shared timing for the benchmarks: warm up, then the median wall time of N runs. Each run must drain
// the backend itself (`await t.data()` on something the work produced) so queued work is counted.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((p, q) => p - q);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface TimingOptions {
  warmup: number; // rounds discarded before measuring
  iters: number; // timed rounds wanted
  /** When set, fewer timed rounds (never below minIters) so that they fit in about this many ms. */
  budgetMs?: number;
  minIters?: number;
}

export interface Timings<K extends string> {
  medianMs: Record<K, number>;
  iters: number; // timed rounds actually taken
}

/**
 * Median ms of each run, measured in rounds: every round runs each one once, starting from a
 * different one each round, so that a burst of load from other processes (or a GC) lands on all
 * of them alike and their ratios stay meaningful. The last warm-up round sizes the budget.
 */
export async function measureInterleaved<K extends string>(runs: Record<K, () => Promise<void>>, o: TimingOptions): Promise<Timings<K>> {
  const keys = Object.keys(runs) as K[];
  const samples = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  const round = async (i: number, keep: boolean): Promise<number> => {
    let total = 0;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(i + j) % keys.length];
      const start = performance.now();
      await runs[k]();
      const ms = performance.now() - start;
      total += ms;
      if (keep) samples[k].push(ms);
    }
    return total;
  };
  let last = 0;
  for (let i = 0; i < o.warmup; i++) last = await round(i, false);
  let iters = o.iters;
  if (o.budgetMs !== undefined && last > 0) {
    iters = Math.min(o.iters, Math.max(o.minIters ?? 1, Math.floor(o.budgetMs / last)));
  }
  for (let i = 0; i < iters; i++) await round(i, true);
  return { medianMs: Object.fromEntries(keys.map((k) => [k, median(samples[k])])) as Record<K, number>, iters };
}

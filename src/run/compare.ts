// Several methods × seeds on the same data, one after another in this process, each in its own
// folder (OUT/<method>/seed-<seed>), then one overlaid report and results.md in OUT.
import { join } from 'node:path';
import type { MethodName } from '../train/methods.js';
import type { Progress } from '../train/progress.js';
import { readComparedRun, writeCompareReport, type ComparedRun } from '../report/compare.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { train, type TrainResult } from './train.js';

export interface CompareOptions {
  /** Training options shared by every run (no method, seed or out). */
  readonly base: Readonly<Record<string, unknown>>;
  readonly methods: readonly MethodName[];
  readonly seeds: readonly number[];
  readonly out: string;
  readonly resume?: boolean;
}

export interface CompareOutcome {
  /** Set when the signal stopped the comparison: which run, and where it can resume. */
  readonly interrupted?: string;
  readonly runs: ComparedRun[];
  readonly results: { readonly config: TrainConfig; readonly result: TrainResult }[];
}

/** The run folder of one method and seed. */
export const runDir = (out: string, method: string, seed: number): string => join(out, method, `seed-${seed}`);

/**
 * Trains every method with every seed (configs are all validated before the first run starts),
 * then writes OUT/report.html and OUT/results.md.
 *
 * @example
 *   await compareMethods({ base: { model, train, eval, task: 'classification', epochs: 3 }, methods: ['lora', 'lora-pro'], seeds: [0, 1], out: 'runs/cmp' });
 */
export async function compareMethods(o: CompareOptions, hooks: { progress?: (config: TrainConfig) => Progress; log?: (line: string) => void; signal?: AbortSignal } = {}): Promise<CompareOutcome> {
  // with --resume, runs that never started start now
  const configs = o.methods.flatMap((method) => o.seeds.map((seed) => trainConfig({ ...o.base, method, seed, out: runDir(o.out, method, seed), resume: o.resume ? 'if-any' : false })));
  const results: CompareOutcome['results'] = [];
  for (const config of configs) {
    hooks.log?.(`== ${config.method}, seed ${config.seed} → ${config.out}`);
    const result = await train(config, { progress: hooks.progress?.(config), log: hooks.log, signal: hooks.signal });
    if (result.status === 'interrupted') return { interrupted: `${config.method} seed ${config.seed}: ${result.message}`, runs: [], results };
    if (result.status !== 'completed') hooks.log?.(result.message ?? `${config.method} seed ${config.seed} stopped`);
    results.push({ config, result });
  }
  const runs = await Promise.all(configs.map((c) => readComparedRun(c.method, c.seed, c.out)));
  await writeCompareReport(o.out, runs);
  return { runs, results };
}

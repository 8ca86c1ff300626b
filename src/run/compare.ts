// Several methods × seeds on the same data, one after another in this process, each in its own
// folder (OUT/<method>[@<init>]/seed-<seed>), then one overlaid report and results.md in OUT.
import { join } from 'node:path';
import { checkVariant, type MethodVariant } from '../train/methods.js';
import type { Progress } from '../train/progress.js';
import { checkRunMemory } from './memory-check.js';
import { readComparedRun, writeCompareReport, type ComparedRun } from '../report/compare.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { lockOut } from './out-lock.js';
import { train, type TrainResult } from './train.js';

export interface CompareOptions {
  /** Training options shared by every run (no method, seed or out). */
  readonly base: Readonly<Record<string, unknown>>;
  /** Methods with their inits (checkVariant: "lora", "lora-pro@pissa", …). */
  readonly methods: readonly MethodVariant[];
  readonly seeds: readonly number[];
  readonly out: string;
  readonly resume?: boolean;
}

export interface CompareOutcome {
  /** Set when the signal stopped the comparison: which run, and where it can resume. */
  readonly interrupted?: string;
  readonly runs: ComparedRun[];
  readonly results: { readonly label: string; readonly config: TrainConfig; readonly result: TrainResult }[];
}

/** Full fine-tuning trains every weight: a --quantize meant for the adapter methods does not apply to it. */
function withoutQuantize(base: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { quantize: _q, ...rest } = base;
  return rest;
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
  // NAME@INIT sets the init; a bare NAME takes the shared one (--init), and its label says so
  const shared = typeof o.base.init === 'string' && o.base.init !== 'default' ? o.base.init : undefined;
  const variants = o.methods.map((v) => (v.label === v.method && shared ? checkVariant(`${v.method}@${shared}`) : v));
  const configs = variants.flatMap((v) =>
    o.seeds.map((seed) => ({ label: v.label, config: trainConfig({ ...(v.method === 'full' ? withoutQuantize(o.base) : o.base), method: v.method, init: v.init, seed, out: runDir(o.out, v.label, seed), resume: o.resume ? 'if-any' : false }) })),
  );
  // every method's memory before the first run, so a comparison is not refused half-way
  for (const { config } of configs.filter((c, i) => configs.findIndex((d) => d.config.method === c.config.method) === i)) await checkRunMemory(config, () => {});
  const lock = lockOut(o.out, (line) => hooks.log?.(line)); // each run locks its own folder too
  try {
    const results: CompareOutcome['results'] = [];
    for (const { label, config } of configs) {
      hooks.log?.(`== ${label}, seed ${config.seed} → ${config.out}`);
      const result = await train(config, { progress: hooks.progress?.(config), log: hooks.log, signal: hooks.signal });
      if (result.status === 'interrupted') return { interrupted: `${label} seed ${config.seed}: ${result.message}`, runs: [], results };
      if (result.status !== 'completed') hooks.log?.(result.message ?? `${label} seed ${config.seed} stopped`);
      results.push({ label, config, result });
    }
    const runs = await Promise.all(configs.map(({ label, config: c }) => readComparedRun(label, c.seed, c.out)));
    await writeCompareReport(o.out, runs);
    return { runs, results };
  } finally {
    lock.release();
  }
}

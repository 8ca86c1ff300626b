// The LoRA-Pro paper's comparison, offline: methods × built-in tasks × seeds from one base model,
// each method's learning rate picked from a small grid on the validation split (first seed), test
// metrics as mean ± std over seeds. The table, costs, diagnostic and plots go to docs/results.md.
import { engineName } from '../../engine/backend.js';
import { checkVariant, type MethodName } from '../../train/methods.js';
import type { Progress } from '../../train/progress.js';
import { tf } from '../../engine/tf.js';
import { PAPER_TASKS } from '../../tasks/builtin.js';
import { pickTrial } from '../../run/lr-search.js';
import { limiter, runMethodInChild, stopChildren } from './pool.js';
import { runMethod, type MethodRun } from './runs.js';

export const PAPER_METHODS: readonly MethodName[] = ['full', 'lora', 'rslora', 'lora-plus', 'lora-pro', 'lora-pro-efficient'];

/**
 * Learning-rate grids (AdamW), two points each to keep the full run within a few hours on two cores.
 * rsLoRA scales by alpha/√r (2.8× LoRA's alpha/r at r 8) and LoRA+ trains B at 16× its rate, so their
 * grids sit lower; LoRA-Pro's update approximates the full gradient's, so its grid sits near full's.
 */
export const LR_GRID: Readonly<Record<string, readonly number[]>> = {
  full: [3e-4, 1e-3],
  lora: [3e-3, 1e-2],
  rslora: [1e-3, 3e-3],
  'lora-plus': [3e-4, 1e-3],
  'lora-pro': [1e-3, 3e-3],
  'lora-pro-efficient': [1e-3, 3e-3],
  // not benchmarked: LoRA's grid, as their width rule is LoRA's (lr-defaults-rule.ts)
  dora: [3e-3, 1e-2],
  'lora-fa': [3e-3, 1e-2],
};

/** Bytes per example: enough for names and words; e-mails (subject first) and speeches are cut to their start. */
export const TASK_MAX_LENGTH: Readonly<Record<string, number>> = { spam: 64, 'name-gender': 16, 'name-or-word': 16, stress: 16, syllables: 24 };

export interface PaperPlan {
  readonly model: string;
  readonly tasks: readonly string[];
  /** Methods, each NAME or NAME@INIT (e.g. lora-pro@pissa). */
  readonly methods: readonly string[];
  readonly seeds: readonly number[];
  readonly steps: number;
  readonly batchSize: number;
  readonly maxTrain: number;
  /** Learning rates tried per method (on the first seed). */
  readonly grid: Readonly<Record<string, readonly number[]>>;
  readonly rank: number;
  readonly alpha: number;
  readonly out: string;
}

/** The full benchmark's plan, or --quick's: two tasks, one seed, fewer steps. */
export function paperPlan(o: { model: string; out: string; quick?: boolean; tasks?: readonly string[]; seeds?: readonly number[]; methods?: readonly string[]; steps?: number }): PaperPlan {
  const quick = o.quick ?? false;
  return Object.freeze({
    model: o.model,
    tasks: o.tasks ?? (quick ? ['name-gender', 'syllables'] : PAPER_TASKS),
    methods: o.methods ?? PAPER_METHODS,
    seeds: o.seeds ?? (quick ? [0] : [0, 1, 2]),
    steps: o.steps ?? (quick ? 100 : 150),
    batchSize: 16,
    maxTrain: 2000,
    grid: LR_GRID,
    rank: 8,
    alpha: 16,
    out: o.out,
  });
}

/** A variant's learning-rate grid: its own, else its method's (lora-pro@pissa tries lora-pro's rates). */
export const gridOf = (p: PaperPlan, variant: string): readonly number[] => p.grid[variant] ?? p.grid[checkVariant(variant).method] ?? [1e-3];

/** Runs the plan needs: per task and method, every grid point on the first seed, then the other seeds. */
export function plannedRuns(p: PaperPlan): number {
  return p.tasks.length * p.methods.reduce((n, m) => n + gridOf(p, m).length + p.seeds.length - 1, 0);
}

export interface PaperResult {
  readonly plan: PaperPlan;
  /** Final runs (chosen learning rate, every seed). */
  readonly runs: MethodRun[];
  /** Every grid run (first seed), for the learning-rate table. */
  readonly gridRuns: MethodRun[];
}

function baseOptions(p: PaperPlan, task: string): Record<string, unknown> {
  return {
    model: p.model,
    task: 'classification',
    train: `builtin:${task}?max-train=${p.maxTrain}`,
    maxLength: TASK_MAX_LENGTH[task] ?? 64,
    maxSteps: p.steps,
    batchSize: p.batchSize,
    evalEvery: Math.max(1, Math.ceil(p.steps / 5)),
    warmupSteps: Math.floor(p.steps / 10),
    rank: p.rank,
    alpha: p.alpha,
    targetModules: 'all-linear',
  };
}

/**
 * Highest validation accuracy, by the rule `--lr auto` uses (lr-search.ts pickTrial): diverged runs
 * never win, ties go to the earlier grid point (the validation loss is not kept per run here).
 */
export function pickByValidation(runs: readonly MethodRun[]): MethodRun | undefined {
  return pickTrial(runs.map((r) => ({ run: r, score: r.validation, loss: 0 })))?.run;
}

/**
 * Runs the benchmark, each run in its own folder under `p.out`: with `jobs` 1 one after another in
 * this process (with a progress bar), with more that many at a time in child processes. Per task and
 * method the grid runs come first, then the other seeds at the rate chosen on validation. With
 * `resume` every run continues from its newest checkpoint (a finished one just reloads), so a killed
 * benchmark picks up where it stopped.
 */
export async function runPaper(
  p: PaperPlan,
  hooks: { progress?: () => Progress; log: (line: string) => void; resume?: boolean; jobs?: number; backend?: string },
): Promise<PaperResult> {
  const jobs = hooks.jobs ?? 1;
  const slot = limiter(jobs);
  const total = plannedRuns(p);
  let started = 0;
  let finished = 0;
  let failure: unknown; // the first run that threw: nothing new starts after it
  const one = (task: string, method: string, lr: number, seed: number): Promise<MethodRun> =>
    slot(async () => {
      if (failure !== undefined) throw failure;
      const what = `${task} ${method} lr ${lr} seed ${seed}`;
      hooks.log(`== [${++started}/${total}] ${what}`);
      const options = { base: baseOptions(p, task), task, method, lr, seed, out: p.out, resume: hooks.resume };
      try {
        if (jobs === 1) return await runMethod(options, { progress: hooks.progress?.(), log: hooks.log });
        const t0 = performance.now();
        const run = await runMethodInChild(options, hooks.backend ?? engineName(), jobs);
        hooks.log(`   done [${++finished}/${total}] ${what}: validation ${(100 * run.validation).toFixed(1)}%, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        return run;
      } catch (e) {
        failure ??= e;
        stopChildren();
        throw e;
      }
    });
  // every (task, method) chain starts now; the limiter keeps `jobs` runs going, in plan order
  const chains = p.tasks.flatMap((task) =>
    p.methods.map(async (method) => {
      const tried = await Promise.all(gridOf(p, method).map((lr) => one(task, method, lr, p.seeds[0])));
      const chosen = pickByValidation(tried) ?? tried[0];
      const others = await Promise.all(p.seeds.slice(1).map((seed) => one(task, method, chosen.lr, seed)));
      return { tried, final: [chosen, ...others] };
    }),
  );
  const done = await Promise.all(chains);
  return { plan: p, runs: done.flatMap((c) => c.final), gridRuns: done.flatMap((c) => c.tried) };
}

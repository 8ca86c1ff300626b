// The LoRA-Pro paper's comparison, offline: methods × built-in tasks × seeds from one base model,
// each method's learning rate picked from a small grid on the validation split (first seed), test
// metrics as mean ± std over seeds. The table, costs, diagnostic and plots go to docs/results.md.
import type { MethodName } from '../train/methods.js';
import type { Progress } from '../train/progress.js';
import { runMethod, type MethodRun } from './paper-runs.js';

export const PAPER_METHODS: readonly MethodName[] = ['full', 'lora', 'rslora', 'lora-plus', 'lora-pro', 'lora-pro-efficient'];

/** Learning-rate grids (AdamW). LoRA+ trains B at 16× its rate, so its grid sits lower. */
export const LR_GRID: Readonly<Record<string, readonly number[]>> = {
  full: [3e-4, 1e-3, 3e-3],
  lora: [1e-3, 3e-3, 1e-2],
  rslora: [1e-3, 3e-3, 1e-2],
  'lora-plus': [3e-4, 1e-3, 3e-3],
  'lora-pro': [1e-3, 3e-3, 1e-2],
  'lora-pro-efficient': [1e-3, 3e-3, 1e-2],
};

/** Bytes per example: enough for names and words; e-mails and speeches are cut to their start. */
export const TASK_MAX_LENGTH: Readonly<Record<string, number>> = { spam: 128, 'sotu-party': 128, 'name-gender': 16, 'opinion-polarity': 24, syllables: 24 };

export interface PaperPlan {
  readonly model: string;
  readonly tasks: readonly string[];
  readonly methods: readonly MethodName[];
  readonly seeds: readonly number[];
  readonly steps: number;
  readonly batchSize: number;
  readonly maxTrain: number;
  /** Learning rates tried per method (the middle one only, when a grid has one entry). */
  readonly grid: Readonly<Record<string, readonly number[]>>;
  readonly rank: number;
  readonly alpha: number;
  readonly out: string;
}

/** The full benchmark's plan, or --quick's: two tasks, one seed, fewer steps, a two-point grid. */
export function paperPlan(o: { model: string; out: string; quick?: boolean; tasks?: readonly string[]; seeds?: readonly number[]; methods?: readonly MethodName[]; steps?: number }): PaperPlan {
  const quick = o.quick ?? false;
  const grid = quick ? Object.fromEntries(Object.entries(LR_GRID).map(([m, g]) => [m, g.slice(1)])) : LR_GRID;
  return Object.freeze({
    model: o.model,
    tasks: o.tasks ?? (quick ? ['name-gender', 'syllables'] : ['spam', 'sotu-party', 'name-gender', 'opinion-polarity', 'syllables']),
    methods: o.methods ?? PAPER_METHODS,
    seeds: o.seeds ?? (quick ? [0] : [0, 1, 2]),
    steps: o.steps ?? (quick ? 100 : 300),
    batchSize: 16,
    maxTrain: 2000,
    grid,
    rank: 8,
    alpha: 16,
    out: o.out,
  });
}

/** Runs the plan needs: per task and method, every grid point on the first seed, then the other seeds. */
export function plannedRuns(p: PaperPlan): number {
  return p.tasks.length * p.methods.reduce((n, m) => n + (p.grid[m]?.length ?? 1) + p.seeds.length - 1, 0);
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

/** Highest validation accuracy; ties (and NaN from diverged runs) go to the earlier grid point. */
export function pickByValidation(runs: readonly MethodRun[]): MethodRun | undefined {
  let best: MethodRun | undefined;
  for (const r of runs) if (Number.isFinite(r.validation) && (best === undefined || r.validation > best.validation)) best = r;
  return best;
}

/**
 * Runs the benchmark, one run after another, each in its own folder under `p.out`. With `resume`
 * every run continues from its newest checkpoint (a finished one just reloads), so a killed
 * benchmark picks up where it stopped.
 */
export async function runPaper(p: PaperPlan, hooks: { progress?: () => Progress; log: (line: string) => void; resume?: boolean }): Promise<PaperResult> {
  const runs: MethodRun[] = [];
  const gridRuns: MethodRun[] = [];
  const total = plannedRuns(p);
  let done = 0;
  const one = async (task: string, method: MethodName, lr: number, seed: number): Promise<MethodRun> => {
    hooks.log(`== [${++done}/${total}] ${task} ${method} lr ${lr} seed ${seed}`);
    return runMethod({ base: baseOptions(p, task), task, method, lr, seed, out: p.out, resume: hooks.resume }, { progress: hooks.progress?.(), log: hooks.log });
  };
  for (const task of p.tasks) {
    for (const method of p.methods) {
      const grid = p.grid[method] ?? [1e-3];
      const tried: MethodRun[] = [];
      for (const lr of grid) tried.push(await one(task, method, lr, p.seeds[0]));
      gridRuns.push(...tried);
      const chosen = pickByValidation(tried) ?? tried[0];
      runs.push(chosen);
      for (const seed of p.seeds.slice(1)) runs.push(await one(task, method, chosen.lr, seed));
    }
  }
  return { plan: p, runs, gridRuns };
}

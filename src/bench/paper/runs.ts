// One fine-tuning run of a method on a built-in task, with the numbers the comparison tables need:
// the best validation metric (what the learning-rate grid selects on), the test metrics of the best
// checkpoint, training time, tokens/s, peak memory and the gradient-approximation diagnostic.
import { join } from 'node:path';
import type { EvalMetrics } from '../../train/evaluate.js';
import { checkVariant } from '../../train/methods.js';
import type { Progress } from '../../train/progress.js';
import { trainConfig, type TrainConfig } from '../../train/config.js';
import type { LayerDiagnostic } from '../../train/diagnostics.js';
import { METRICS_FILE, readMetrics, type MetricsLine } from '../../train/metrics-log.js';
import { train, type TrainResult } from '../../run/train.js';
import { testMetrics } from './test-metrics.js';

export interface MethodRun {
  readonly task: string;
  /** The method, with its init when not the default (NAME or NAME@INIT, methods.ts checkVariant). */
  readonly method: string;
  readonly lr: number;
  readonly seed: number;
  readonly dir: string;
  readonly result: TrainResult;
  /** Best validation accuracy over the run's evaluations (NaN when it diverged before one). */
  readonly validation: number;
  /** Test metrics of the best checkpoint; undefined when the run did not complete. */
  readonly test?: EvalMetrics;
  readonly tokensPerSec: number;
  /** Mean over adapted layers of cos(g̃, g) at the last evaluation: [plain LoRA, LoRA-Pro]; undefined for full. */
  readonly diagnostic?: { readonly lora: number; readonly pro: number };
  readonly lines: MetricsLine[];
}

/** The folder of one (task, method, lr, seed) run under `out`. */
export const methodRunDir = (out: string, task: string, method: string, lr: number, seed: number): string => join(out, task, method, `lr-${lr}`, `seed-${seed}`);

/** Mean over adapted layers of the last logged diagnostic's cosines (LoRA-style methods only). */
export function lastDiagnostic(lines: readonly MetricsLine[]): MethodRun['diagnostic'] {
  const layers = [...lines].reverse().find((l) => l.diagnostic?.length)?.diagnostic;
  if (!layers) return undefined;
  const mean = (pick: (d: LayerDiagnostic) => number) => layers.reduce((s, d) => s + pick(d), 0) / layers.length;
  return { lora: mean((d) => d.lora.cosine), pro: mean((d) => d.loraPro.cosine) };
}

export interface MethodRunOptions {
  readonly base: Readonly<Record<string, unknown>>;
  readonly task: string;
  /** NAME or NAME@INIT. */
  readonly method: string;
  readonly lr: number;
  readonly seed: number;
  readonly out: string;
  readonly resume?: boolean;
  readonly test?: boolean;
}

/**
 * Trains `method` at `lr` with `seed` on `base` (whose `train` is a `builtin:` spec) into its own
 * folder, then scores the best checkpoint on the test split.
 */
export async function runMethod(
  o: MethodRunOptions,
  hooks: { progress?: Progress; log?: (line: string) => void } = {},
): Promise<MethodRun> {
  const dir = methodRunDir(o.out, o.task, o.method, o.lr, o.seed);
  const variant = checkVariant(o.method);
  const config: TrainConfig = trainConfig({ ...o.base, method: variant.method, init: variant.init, lr: o.lr, seed: o.seed, out: dir, resume: o.resume ?? false });
  const result = await train(config, hooks);
  const lines = await readMetrics(join(dir, METRICS_FILE));
  const accs = lines.map((l) => l.eval?.accuracy).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const completed = result.status === 'completed';
  const timed = lines.filter((l) => Number.isFinite(l.tokensPerSec));
  const tokensPerSec = timed.length ? timed.reduce((s, l) => s + l.tokensPerSec, 0) / timed.length : Number.NaN;
  return {
    task: o.task,
    method: o.method,
    lr: o.lr,
    seed: o.seed,
    dir,
    result,
    validation: completed && accs.length ? Math.max(...accs) : Number.NaN,
    test: completed && o.test !== false ? await testMetrics(dir) : undefined,
    tokensPerSec,
    diagnostic: lastDiagnostic(lines),
    lines,
  };
}

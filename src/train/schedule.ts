// Learning rate as a pure function of the optimizer step, with Hugging Face transformers' semantics
// (get_constant_schedule_with_warmup, get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup,
// get_cosine_with_min_lr_schedule_with_warmup): steps count from 0 and warmup rises linearly from 0.

export type ScheduleKind = 'constant' | 'linear' | 'cosine';
const KINDS: readonly ScheduleKind[] = ['constant', 'linear', 'cosine'];

export interface ScheduleOptions {
  /** Peak learning rate, reached at step warmupSteps. */
  readonly base: number;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
  /** Steps in the whole run; the decay reaches its floor here. Required for linear and cosine. */
  readonly totalSteps?: number;
  /** Floor of the decay as a fraction of base (HF's min_lr_rate); 0 by default. Not applied in warmup. */
  readonly minRatio?: number;
}

/** Checks the options once; each error names the option and the bad value. */
export function validateSchedule(options: ScheduleOptions): Readonly<Required<ScheduleOptions>> {
  const { base, schedule, warmupSteps, totalSteps, minRatio = 0 } = options;
  if (!KINDS.includes(schedule)) throw new Error(`schedule must be one of ${KINDS.join(', ')}, got ${JSON.stringify(schedule)}`);
  if (typeof base !== 'number' || !Number.isFinite(base) || base <= 0) throw new Error(`schedule base (learning rate) must be a positive number, got ${base}`);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new Error(`schedule warmupSteps must be a non-negative integer, got ${warmupSteps}`);
  if (typeof minRatio !== 'number' || !(minRatio >= 0 && minRatio <= 1)) throw new Error(`schedule minRatio must be a number in [0, 1], got ${minRatio}`);
  if (schedule === 'constant') return Object.freeze({ base, schedule, warmupSteps, totalSteps: totalSteps ?? Infinity, minRatio });
  if (totalSteps === undefined || !Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new Error(`schedule totalSteps must be a positive integer for a ${schedule} schedule, got ${totalSteps}`);
  }
  if (warmupSteps > totalSteps) throw new Error(`schedule warmupSteps (${warmupSteps}) must not exceed totalSteps (${totalSteps})`);
  return Object.freeze({ base, schedule, warmupSteps, totalSteps, minRatio });
}

/**
 * The learning rate for optimizer step `step` (0-based: the first update uses step 0, so lr = 0 at
 * step 0 when there is warmup, as in HF). With w = warmupSteps, T = totalSteps, m = minRatio:
 *   step < w:  base · step / max(1, w)
 *   constant:  base
 *   linear:    base · (m + (1 − m) · max(0, (T − step) / max(1, T − w)))
 *   cosine:    base · (m + (1 − m) · ½(1 + cos(π · progress))),  progress = min(1, (step − w) / max(1, T − w))
 * Past T the cosine stays at its floor (HF's would start to rise again).
 *
 * @example
 *   learningRate(50, { base: 1e-3, schedule: 'linear', warmupSteps: 100, totalSteps: 1000 }); // 5e-4
 */
export function learningRate(step: number, options: ScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) throw new Error(`learningRate: step must be a non-negative integer, got ${step}`);
  const { base, schedule, warmupSteps: w, totalSteps: T, minRatio: m } = validateSchedule(options);
  if (step < w) return (base * step) / Math.max(1, w);
  if (schedule === 'constant') return base;
  const decay = schedule === 'linear' ? Math.max(0, (T - step) / Math.max(1, T - w)) : cosineDecay(Math.min(1, (step - w) / Math.max(1, T - w)));
  return base * (m + (1 - m) * decay);
}

/** ½(1 + cos(π·progress)): 1 at progress 0, ½ halfway, 0 at the end (HF's num_cycles = 0.5). */
function cosineDecay(progress: number): number {
  return 0.5 * (1 + Math.cos(Math.PI * progress));
}

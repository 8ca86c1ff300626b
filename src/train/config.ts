// The configuration of one training run: defaults filled, every field checked once, frozen. The
// CLI's flags and a --config JSON file both arrive here as a plain object; errors name the option
// as both spellings (`maxSteps` / --max-steps) and the bad value.
import type { ScheduleKind } from './schedule.js';
import { checkInit, checkMethod, type MethodName } from './methods.js';
import { UsageError } from './errors.js';
import { parseTargetModules } from '../adapters/peft-targets.js';
import { mutatesBase } from '../adapters/lora-config.js';
import { QUANTIZE_MODES, type QuantizeMode } from '../quant/formats.js';

export type TaskName = 'classification' | 'causal-lm';
export const TASKS: readonly TaskName[] = ['classification', 'causal-lm'];

export type MetricName = 'loss' | 'accuracy' | 'macroF1' | 'mcc' | 'perplexity';
export const METRICS_BY_TASK: Readonly<Record<TaskName, readonly MetricName[]>> = {
  classification: ['loss', 'accuracy', 'macroF1', 'mcc'],
  'causal-lm': ['loss', 'perplexity'],
};
/** Metrics where smaller is better. */
export const LOWER_IS_BETTER: ReadonlySet<MetricName> = new Set(['loss', 'perplexity']);

/**
 * The learning rate asked for: a number; 'auto' (the default), a short search over a grid around
 * the model folder's recommended rate for the method (lorapro.json) or else the width rule
 * (src/run/lr-search.ts); or 'recommended', that rate without a search.
 */
export type LrRequest = number | 'auto' | 'recommended';

/** One rate tried: its best validation value of the run's metric, and the final validation loss. */
export interface LrTrial {
  readonly lr: number;
  readonly status: string; // 'completed', or why the trial stopped ('diverged')
  readonly score: number; // NaN when the trial diverged or had no evaluation
  readonly loss: number;
}

export interface LrChoice {
  readonly requested: LrRequest;
  readonly lr: number;
  /** Where the rate came from: the user, the model folder's lorapro.json, the width rule, or the search. */
  readonly source: 'given' | 'model' | 'rule' | 'search';
  /** One line for progress output and the report. */
  readonly note: string;
  readonly metric?: string;
  readonly trialSteps?: number;
  readonly trials?: readonly LrTrial[];
  /** The search: one standard error of the best trial's score; the lowest rate within it was chosen. */
  readonly standardError?: number;
}

/** How a run resumes: false starts fresh; true continues the checkpoint in --out (an error without one); 'if-any' continues one when there is one. */
export type ResumeMode = boolean | 'if-any';

export interface TrainConfig {
  readonly model: string; // Hugging Face model folder
  readonly train: string; // dataset file
  readonly eval?: string; // evaluation file; else a seeded split of `train`
  readonly task: TaskName;
  readonly method: MethodName;
  /** How adapters start: default, gaussian, pissa, pissa_niter_K, olora or lora-ga (methods.ts INITS). */
  readonly init: string;
  /** LoRA-GA: training batches its gradient estimate averages over. */
  readonly gaBatches: number;
  /**
   * PiSSA / OLoRA / LoRA-GA: save the adapter as trained, for the residual base, instead of converted
   * to a plain LoRA for the original base (the default, which PEFT loads on the unmodified model).
   */
  readonly rawAdapter: boolean;
  readonly rank: number;
  readonly alpha: number;
  /**
   * The frozen base's storage (engine/frozen.ts): 'none' keeps the checkpoint's dtype (outside the
   * wasm heap under the native engine), 'int8' / 'nf4' / 'nf4-dq' quantize every linear layer of the
   * blocks at load (QLoRA with nf4; nf4-dq with its double quantization). Adapter methods only.
   */
  readonly quantize: QuantizeMode;
  readonly targetModules: readonly string[] | string; // names, a regex, 'all-linear', or 'peft' (PEFT's default for the model type)
  readonly loraDropout: number;
  readonly lr: LrRequest;
  /** Learning rates the search tries (default: three around the suggested rate). */
  readonly lrGrid?: readonly number[];
  /** Optimiser steps of each search trial (default: a quarter of the run, at least 20). */
  readonly lrSearchSteps?: number;
  readonly epochs?: number; // exactly one of epochs / maxSteps is set
  readonly maxSteps?: number;
  readonly batchSize: number;
  readonly gradAccum: number; // micro-batches per optimiser step
  readonly maxLength: number; // tokens per example
  /** Recompute each transformer block's activations in the backward pass instead of keeping them (decoders only). */
  readonly gradientCheckpointing: boolean;
  readonly schedule: ScheduleKind;
  readonly warmupSteps: number;
  readonly weightDecay: number;
  readonly clipNorm?: number;
  readonly evalEvery?: number; // steps; default: 10 evaluations per run
  readonly saveEvery?: number; // steps; default: evalEvery
  readonly logEvery: number;
  readonly bestMetric: MetricName;
  readonly keepCheckpoints: number; // most recent checkpoints kept (the best one is kept as well)
  readonly diagnostics: boolean; // per-layer gradient-approximation diagnostic at evaluations
  readonly validationFraction: number;
  readonly loraPlusRatio: number;
  readonly momentum: number;
  /** δ of LoRA-Pro's damped inverses (BᵀB + δI)⁻¹; absent: the optimiser's own (1e-2 SGD, 1e-8 AdamW). */
  readonly damping?: number;
  readonly seed: number;
  /** Stop a run whose loss climbs far above its start or whose weights blow up. */
  readonly divergenceGuard: boolean;
  readonly out: string;
  readonly resume: ResumeMode;
  /** --resume although a data file's bytes differ from those the run started with (run.json's fingerprint). */
  readonly allowDataChange: boolean;
}

/** A config whose learning rate has been resolved to a number (what a run trains with). */
export type ResolvedTrainConfig = TrainConfig & { readonly lr: number };

/** Option names in the order --help lists them. */
export const TRAIN_OPTION_NAMES = [
  'model', 'train', 'eval', 'task', 'method', 'init', 'gaBatches', 'rawAdapter', 'rank', 'alpha', 'quantize', 'targetModules', 'loraDropout', 'lr', 'lrGrid', 'lrSearchSteps', 'epochs', 'maxSteps',
  'batchSize', 'gradAccum', 'maxLength', 'gradientCheckpointing', 'schedule', 'warmupSteps', 'weightDecay', 'clipNorm', 'evalEvery', 'saveEvery',
  'logEvery', 'bestMetric', 'keepCheckpoints', 'diagnostics', 'validationFraction', 'loraPlusRatio', 'momentum', 'damping', 'seed', 'divergenceGuard', 'out', 'resume', 'allowDataChange',
] as const satisfies readonly (keyof TrainConfig)[];

/** camelCase → the CLI's --kebab-case. */
export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Reads typed fields from a loose object, naming the field and the bad value in each error. */
class Fields {
  constructor(private readonly o: Readonly<Record<string, unknown>>) {}

  private fail(key: string, want: string): never {
    throw new UsageError(`${key} (${flagName(key)}) must be ${want}, got ${JSON.stringify(this.o[key])}`);
  }

  has(key: string): boolean {
    return this.o[key] !== undefined;
  }

  string(key: string, fallback?: string): string {
    const v = this.o[key] ?? fallback;
    if (v === undefined) throw new UsageError(`missing required option ${flagName(key)}`);
    if (typeof v !== 'string' || v === '') this.fail(key, 'a non-empty string');
    return v;
  }

  oneOf<T extends string>(key: string, choices: readonly T[], fallback?: T): T {
    const v = this.string(key, fallback);
    if (!(choices as readonly string[]).includes(v)) this.fail(key, `one of ${choices.join(', ')}`);
    return v as T;
  }

  number(key: string, fallback: number, check: (v: number) => boolean, want: string): number {
    const v = this.o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(key, want);
    return v;
  }

  int(key: string, fallback: number, min: number): number {
    return this.number(key, fallback, (v) => Number.isInteger(v) && v >= min, min === 0 ? 'an integer ≥ 0' : `an integer ≥ ${min}`);
  }

  optionalInt(key: string, min: number): number | undefined {
    return this.has(key) ? this.int(key, 0, min) : undefined;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.o[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  /** A positive number, 'auto' or 'recommended' (numbers may come as text from the command line). */
  lr(key: string): LrRequest {
    const v = this.o[key] ?? 'auto';
    if (v === 'auto' || v === 'recommended') return v;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) this.fail(key, 'a positive number, "auto" or "recommended"');
    return n;
  }

  /** Positive numbers, as an array or one comma-separated string ("1e-4,3e-4"). */
  positiveList(key: string): readonly number[] | undefined {
    const v = this.o[key];
    if (v === undefined) return undefined;
    const list = typeof v === 'string' ? v.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s))) : v;
    if (!Array.isArray(list) || list.length === 0 || list.some((n) => typeof n !== 'number' || !Number.isFinite(n) || n <= 0)) this.fail(key, 'a comma-separated list of positive numbers');
    return Object.freeze([...(list as number[])]);
  }

  resume(key: string): ResumeMode {
    const v = this.o[key] ?? false;
    if (typeof v !== 'boolean' && v !== 'if-any') this.fail(key, 'true, false or "if-any"');
    return v;
  }

  /** Modules to adapt: names (an array, or "q_proj,v_proj"), a regex, "all-linear" or "peft" (peft-targets.ts). */
  targets(key: string, fallback: string): readonly string[] | string {
    try {
      return parseTargetModules(this.o[key] ?? fallback);
    } catch (e) {
      throw new UsageError(`${flagName(key)} ${(e as Error).message}`);
    }
  }
}

/**
 * A validated, frozen TrainConfig. Unknown keys are errors (a misspelt option would otherwise be
 * silently ignored). The learning rate stays a request ('auto' when not given) until the run
 * resolves it (run/lr-search.ts); bestMetric defaults to accuracy or loss.
 *
 * @example
 *   const config = trainConfig({ model: 'gpt2', train: 'train.jsonl', task: 'causal-lm', method: 'lora-pro', out: 'runs/a' });
 */
export function trainConfig(input: Readonly<Record<string, unknown>>): TrainConfig {
  const known = new Set<string>(TRAIN_OPTION_NAMES);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new UsageError(`unknown training option "${key}" (${flagName(key)}); known: ${TRAIN_OPTION_NAMES.map(flagName).join(', ')}`);
  }
  const f = new Fields(input);
  const task = f.oneOf('task', TASKS);
  const method = checkMethod(f.string('method'));
  if (f.has('epochs') && f.has('maxSteps')) throw new UsageError('give either --epochs or --max-steps, not both');
  const prob = (v: number) => v >= 0 && v < 1;
  const init = f.string('init', 'default');
  checkInit(init);
  if (method === 'full' && init !== 'default') throw new UsageError(`--init ${init} initialises adapters; --method full has none`);
  const lr = f.lr('lr');
  if (lr !== 'auto') {
    const searchOnly = (['lrGrid', 'lrSearchSteps'] as const).find((k) => f.has(k));
    if (searchOnly) throw new UsageError(`${flagName(searchOnly)} sets the learning-rate search, which --lr ${lr} skips; give --lr or ${flagName(searchOnly)}, not both`);
  }
  const quantize = f.oneOf<QuantizeMode>('quantize', QUANTIZE_MODES, 'none');
  if (quantize !== 'none' && method === 'full') throw new UsageError(`--quantize ${quantize} keeps a frozen base quantized under trained adapters; --method full trains every weight (use an adapter method, e.g. --method lora)`);
  if (quantize !== 'none' && method === 'dora') throw new UsageError(`--quantize ${quantize}: DoRA reads the base weight's row norms every step, which a quantized base outside the heap does not offer; use another adapter method or --quantize none`);
  if (quantize !== 'none' && mutatesBase(checkInit(init))) throw new UsageError(`--quantize ${quantize}: --init ${init} rewrites the base weight to W − s·B·A, which a quantized base cannot hold; use --init default or --quantize none`);
  const config: TrainConfig = {
    model: f.string('model'),
    train: f.string('train'),
    eval: f.has('eval') ? f.string('eval') : undefined,
    task,
    method,
    init,
    gaBatches: f.int('gaBatches', 8, 1),
    rawAdapter: f.boolean('rawAdapter', false),
    rank: f.int('rank', 8, 1),
    alpha: f.number('alpha', 16, (v) => v > 0, 'a positive number'),
    quantize,
    targetModules: f.targets('targetModules', 'all-linear'),
    loraDropout: f.number('loraDropout', 0, prob, 'in [0, 1)'),
    lr,
    lrGrid: f.positiveList('lrGrid'),
    lrSearchSteps: f.optionalInt('lrSearchSteps', 1),
    epochs: f.has('maxSteps') ? undefined : f.int('epochs', 3, 1),
    maxSteps: f.optionalInt('maxSteps', 1),
    batchSize: f.int('batchSize', 8, 1),
    gradAccum: f.int('gradAccum', 1, 1),
    maxLength: f.int('maxLength', 128, 2),
    gradientCheckpointing: f.boolean('gradientCheckpointing', false),
    schedule: f.oneOf<ScheduleKind>('schedule', ['constant', 'linear', 'cosine'], 'linear'),
    warmupSteps: f.int('warmupSteps', 0, 0),
    weightDecay: f.number('weightDecay', 0, (v) => v >= 0, 'a number ≥ 0'),
    clipNorm: f.has('clipNorm') ? f.number('clipNorm', 0, (v) => v > 0, 'a positive number') : 1,
    evalEvery: f.optionalInt('evalEvery', 1),
    saveEvery: f.optionalInt('saveEvery', 1),
    logEvery: f.int('logEvery', 1, 1),
    bestMetric: f.oneOf<MetricName>('bestMetric', METRICS_BY_TASK[task], task === 'classification' ? 'accuracy' : 'loss'),
    keepCheckpoints: f.int('keepCheckpoints', 2, 1),
    diagnostics: f.boolean('diagnostics', true),
    validationFraction: f.number('validationFraction', 0.1, (v) => v > 0 && v < 1, 'in (0, 1)'),
    loraPlusRatio: f.number('loraPlusRatio', 16, (v) => v > 0, 'a positive number'),
    momentum: f.number('momentum', 0, prob, 'in [0, 1)'),
    damping: f.has('damping') ? f.number('damping', 0, (v) => v > 0, 'a positive number') : undefined,
    seed: f.int('seed', 0, 0),
    divergenceGuard: f.boolean('divergenceGuard', true),
    out: f.string('out'),
    resume: f.resume('resume'),
    allowDataChange: f.boolean('allowDataChange', false),
  };
  return Object.freeze(config);
}

/** The fields that must match for `--resume` to continue a run (everything that shapes the numbers). */
export function resumeKey(c: TrainConfig): Record<string, unknown> {
  const { resume: _r, out: _o, logEvery: _l, keepCheckpoints: _k, evalEvery: _e, saveEvery: _s, diagnostics: _d, divergenceGuard: _g, rawAdapter: _raw, allowDataChange: _a, gradientCheckpointing: _gc, ...rest } = c; // checkpointing changes memory, not the numbers
  return rest;
}

// The learning rates a run starts from when the user gives none, without any file system: the rule by
// width, the search grid around a rate, and the validation of a model folder's lorapro.json.
import type { ModelConfig } from '../io/hf-config.js';
import { METHODS, type MethodName } from './methods.js';
import { UsageError } from './errors.js';

export const RECOMMENDATIONS_FILE = 'lorapro.json';

export interface Recommendations {
  readonly learningRate: Readonly<Partial<Record<MethodName, number>>>;
  readonly source?: string;
}

/**
 * The width the rule was fitted at: lorapro-base (hidden 128), where `lorapro bench paper` chose full
 * 1e-3 and LoRA 3e-3 on all five tasks (docs/results.md, learning-rate grid).
 */
const REFERENCE_WIDTH = 128;

/**
 * Rate at the reference width and the power of (128 / width) it scales by. Full fine-tuning (and
 * LoRA-Pro's full mode, whose Adam moments are full-sized, so its steps on W match full's) scale as
 * width^-1.5: 1e-3 at 128 gives 6.8e-5 at 768 (GPT-2, BERT-base) and 1.6e-5 at 2048 (TinyLlama),
 * the usual rates there. LoRA scales as width^-1: 3e-3 at 128 gives 5e-4 at 768 (the LoRA paper's
 * RoBERTa-base rate) and 9e-5 at 4096. LoRA+ trains B at 16× its rate, so its base sits lower.
 * LoRA-Pro SGD needs a much larger rate than Adam, about 1 (its steps are clipped raw gradients, no
 * Adam normalisation): at damping 1e-3 (lora-pro-sgd.ts) syllables at compare's defaults gave
 * 67.0 / 71.2 % test accuracy at lr 0.3 / 1 (majority 47.4).
 */
const RULE: Readonly<Record<MethodName, { at128: number; power: number }>> = {
  full: { at128: 1e-3, power: 1.5 },
  lora: { at128: 3e-3, power: 1 },
  rslora: { at128: 3e-3, power: 1 },
  'lora-plus': { at128: 1e-3, power: 1 },
  'lora-pro': { at128: 1e-3, power: 1.5 },
  'lora-pro-efficient': { at128: 3e-3, power: 1 },
  'lora-pro-sgd': { at128: 1, power: 1 },
  // DoRA and LoRA-FA train like LoRA under Adam (LoRA-FA's projection keeps B's steps Adam-normalised); not measured apart
  dora: { at128: 3e-3, power: 1 },
  'lora-fa': { at128: 3e-3, power: 1 },
};

/** The model's hidden width (n_embd / hidden_size). */
export function widthOf(c: ModelConfig): number {
  if (c.modelType === 't5') return c.dModel;
  return c.modelType === 'gpt2' ? c.nEmbd : c.hiddenSize;
}

/** The width rule's learning rate for `method` on a model `width` wide. */
export function suggestedLearningRate(method: MethodName, width: number): number {
  const { at128, power } = RULE[method];
  return at128 * (REFERENCE_WIDTH / width) ** power;
}

/**
 * The rate `--lr recommended` trains `method` with: the model folder's lorapro.json, else the width
 * rule; `fromFolder` says which. Also the centre of `--lr auto`'s grid.
 */
export function recommendedRate(method: MethodName, config: ModelConfig, recommendations: Recommendations | undefined): { lr: number; fromFolder: boolean } {
  const given = recommendations?.learningRate[method];
  return given !== undefined ? { lr: given, fromFolder: true } : { lr: suggestedLearningRate(method, widthOf(config)), fromFolder: false };
}

/** A parsed lorapro.json, validated; `path` names it in errors. */
export function recommendationsFromJson(json: unknown, path: string): Recommendations {
  const rec = (json as { recommended?: unknown } | null)?.recommended;
  const rates = (rec as { learningRate?: unknown } | undefined)?.learningRate;
  if (typeof rates !== 'object' || rates === null || Array.isArray(rates)) throw new UsageError(`${path}: "recommended.learningRate" must be an object of rates by method, e.g. {"lora": 0.003}`);
  for (const [method, lr] of Object.entries(rates)) {
    if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`${path}: recommended.learningRate has unknown method "${method}"; methods: ${METHODS.join(', ')}`);
    if (typeof lr !== 'number' || !Number.isFinite(lr) || lr <= 0) throw new UsageError(`${path}: recommended.learningRate.${method} must be a positive number, got ${JSON.stringify(lr)}`);
  }
  const source = (rec as { source?: unknown }).source;
  return { learningRate: rates as Recommendations['learningRate'], source: typeof source === 'string' ? source : undefined };
}

/** Half-decade steps (1, 3, 10, 30, …): the grid's spacing, so rates read as round numbers. */
function snapHalfDecade(x: number): number {
  const k = Math.round(2 * Math.log10(x)); // steps of √10 ≈ 3.16
  const decade = 10 ** Math.floor(k / 2);
  return Number((k % 2 === 0 ? decade : 3 * decade).toPrecision(3));
}

/**
 * `points` rates a half decade apart centred on `centre` (snapped to 1·10^k or 3·10^k): the default
 * grid of `--lr auto`. Three points cover a 10× range, which holds every rate `bench paper` chose.
 *
 * @example
 *   searchGrid(1e-3, 3) // [0.0003, 0.001, 0.003]
 */
export function searchGrid(centre: number, points = 3): number[] {
  const k0 = Math.round(2 * Math.log10(centre)) - Math.floor((points - 1) / 2);
  return Array.from({ length: points }, (_, i) => snapHalfDecade(10 ** ((k0 + i) / 2)));
}

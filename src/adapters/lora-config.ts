// LoRA configuration with PEFT's semantics, validated once and frozen. The JSON form
// (adapter_config.json, snake_case) is converted in io/peft-config.ts, nowhere else.

/**
 * How A and B start (PEFT's `init_lora_weights`): true kaiming-uniform A and B = 0; 'gaussian' A ~
 * N(0, 1/r); false both random (tests only); 'pissa' / 'pissa_niter_K' the top-r singular triplets of
 * W (exact, or randomized with K subspace iterations); 'olora' the first r columns / rows of W's QR;
 * 'lora_ga' the singular vectors of the estimated full gradient. The last four move s·B·A out of the
 * base weight (W ← W − s·B·A) so the model is unchanged at the start.
 */
export type InitLoraWeights = boolean | 'gaussian' | 'pissa' | `pissa_niter_${number}` | 'olora' | 'lora_ga';

/** K of 'pissa_niter_K', or undefined for any other init. */
export function pissaIterations(init: InitLoraWeights): number | undefined {
  const m = typeof init === 'string' ? /^pissa_niter_(\d+)$/.exec(init) : null;
  return m ? Number(m[1]) : undefined;
}

/** True for the inits that compute A, B from the base layer and subtract s·B·A from it. */
export function mutatesBase(init: InitLoraWeights): boolean {
  return init === 'pissa' || init === 'olora' || init === 'lora_ga' || pissaIterations(init) !== undefined;
}

/** Whether `v` is one of the init_lora_weights values above. */
export function isInitLoraWeights(v: unknown): v is InitLoraWeights {
  return v === true || v === false || v === 'gaussian' || v === 'pissa' || v === 'olora' || v === 'lora_ga' || (typeof v === 'string' && /^pissa_niter_\d+$/.test(v));
}

export interface LoraConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  /** Module names (exact path or ".suffix"), a regex string matched against the whole path, or 'all-linear'. */
  readonly targetModules: readonly string[] | string;
  readonly excludeModules?: readonly string[] | string;
  readonly layersToTransform?: readonly number[];
  readonly layersPattern?: readonly string[];
  /** Per-module rank / alpha, keys matched as PEFT: `(.*\.)?key$` against the module path. */
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  /** Modules trained in full and saved with the adapter (e.g. a classification head). */
  readonly modulesToSave: readonly string[];
  readonly useRslora: boolean;
  readonly initLoraWeights: InitLoraWeights;
  /** DoRA (Liu et al., 2024): a trained magnitude per output row, PEFT's `use_dora`. */
  readonly useDora: boolean;
  readonly bias: 'none';
  readonly taskType?: string; // PEFT's TaskType: "CAUSAL_LM", "SEQ_CLS", …
  readonly baseModelNameOrPath?: string;
  /** Seed for A's initialisation and dropout masks (not part of PEFT's format). */
  readonly seed: number;
}

const positiveInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Fills PEFT's defaults (r 8, alpha 8, dropout 0, kaiming-uniform A, B = 0) and validates.
 *
 * @example
 *   const config = loraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] });
 */
export function loraConfig(opts: Partial<LoraConfig> & Pick<LoraConfig, 'targetModules'>): LoraConfig {
  const c: LoraConfig = {
    r: 8,
    loraAlpha: 8,
    loraDropout: 0,
    rankPattern: {},
    alphaPattern: {},
    modulesToSave: [],
    useRslora: false,
    initLoraWeights: true,
    useDora: false,
    bias: 'none',
    seed: 0,
    ...opts,
  };
  if (!positiveInt(c.r)) throw new Error(`LoraConfig.r must be a positive integer, got ${c.r}`);
  if (!(typeof c.loraAlpha === 'number' && Number.isFinite(c.loraAlpha) && c.loraAlpha > 0)) throw new Error(`LoraConfig.loraAlpha must be a positive number, got ${c.loraAlpha}`);
  if (!(c.loraDropout >= 0 && c.loraDropout < 1)) throw new Error(`LoraConfig.loraDropout must be in [0, 1), got ${c.loraDropout}`);
  if (typeof c.targetModules === 'string') {
    if (c.targetModules.length === 0) throw new Error('LoraConfig.targetModules must not be empty');
    if (c.targetModules !== 'all-linear') compileRegex(c.targetModules, 'targetModules');
  } else if (!Array.isArray(c.targetModules) || c.targetModules.length === 0 || c.targetModules.some((t) => typeof t !== 'string' || !t)) {
    throw new Error(`LoraConfig.targetModules must be a non-empty list of module names, a regex string or "all-linear", got ${JSON.stringify(c.targetModules)}`);
  }
  if (typeof c.excludeModules === 'string') compileRegex(c.excludeModules, 'excludeModules');
  for (const [k, v] of Object.entries(c.rankPattern)) if (!positiveInt(v)) throw new Error(`LoraConfig.rankPattern["${k}"] must be a positive integer, got ${v}`);
  for (const [k, v] of Object.entries(c.alphaPattern)) if (!(typeof v === 'number' && v > 0)) throw new Error(`LoraConfig.alphaPattern["${k}"] must be a positive number, got ${v}`);
  if (c.layersToTransform?.some((i) => !Number.isInteger(i) || i < 0)) throw new Error(`LoraConfig.layersToTransform must hold non-negative integers, got ${JSON.stringify(c.layersToTransform)}`);
  if (!isInitLoraWeights(c.initLoraWeights)) throw new Error(`LoraConfig.initLoraWeights must be true, false, "gaussian", "pissa", "pissa_niter_K" (K an integer ≥ 0), "olora" or "lora_ga", got ${JSON.stringify(c.initLoraWeights)}`);
  if (typeof c.useDora !== 'boolean') throw new Error(`LoraConfig.useDora must be true or false, got ${JSON.stringify(c.useDora)}`);
  if (c.useDora && mutatesBase(c.initLoraWeights)) throw new Error(`LoraConfig: DoRA with initLoraWeights "${c.initLoraWeights}" is not supported (the magnitude would be taken from the residual base, and the adapter could not be converted to one for the original base on save)`);
  if (c.bias !== 'none') throw new Error(`LoraConfig.bias: only "none" is supported, got "${c.bias}"`);
  if (!Number.isInteger(c.seed)) throw new Error(`LoraConfig.seed must be an integer, got ${c.seed}`);
  return Object.freeze({ ...c });
}

export function compileRegex(source: string, field: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (e) {
    throw new Error(`LoraConfig.${field} is not a valid regular expression: ${JSON.stringify(source)} (${(e as Error).message})`);
  }
}

/** s = alpha / r, or alpha / sqrt(r) with rsLoRA (Kalajdzievski, 2023). */
export function loraScale(r: number, alpha: number, useRslora: boolean): number {
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

// Fine-tuning methods by name: which parameters train and which optimiser updates them.
//   full                all parameters, AdamW
//   lora / rslora       LoRA adapters (s = alpha/r, or alpha/√r), AdamW
//   lora-plus           LoRA with B's learning rate 16× A's (Hayou et al., 2024)
//   lora-pro            LoRA-Pro AdamW, full mode (m×n Adam moments per adapted layer)
//   lora-pro-efficient  LoRA-Pro AdamW, efficient mode (LoRA-sized moments)
//   lora-pro-sgd        LoRA-Pro SGD (paper Algorithm 1)
//   dora                DoRA: LoRA plus a trained magnitude per output row, AdamW
//   lora-fa             LoRA-FA: A frozen, B on the projected gradient (PEFT's LoRA-FA optimiser)
// Every adapter method takes an init (`init`: default, gaussian, pissa, pissa_niter_K, olora, lora_ga).
import { tf } from '../engine/tf.js';
import { injectLora } from '../adapters/inject.js';
import { estimateLoraGaGradients } from '../adapters/lora-ga.js';
import { loraConfig, type InitLoraWeights, type LoraConfig } from '../adapters/lora-config.js';
import { resolveTargetModules } from '../adapters/peft-targets.js';
import { LoraFA } from '../optim/lora-fa.js';
import type { PretrainedModel } from '../models/types.js';
import { AdamW } from '../optim/adamw.js';
import { createLoraPlus } from '../optim/lora-plus.js';
import { LoraProAdamW } from '../optim/lora-pro-adamw.js';
import { LoraProSGD } from '../optim/lora-pro-sgd.js';
import { nonLoraParams } from '../optim/lora-pro-pairs.js';
import type { CommonOptions, LoraPair, Optimizer } from '../optim/optimizer.js';
import { UsageError } from './errors.js';

export const METHODS = ['full', 'lora', 'rslora', 'lora-plus', 'lora-pro', 'lora-pro-efficient', 'lora-pro-sgd', 'dora', 'lora-fa'] as const;
export type MethodName = (typeof METHODS)[number];

/** What each method is, for --help and `info`. */
export const METHOD_SUMMARIES: Readonly<Record<MethodName, string>> = {
  full: 'every parameter, AdamW',
  lora: 'LoRA adapters (s = alpha/r), AdamW',
  rslora: 'rank-stabilised LoRA (s = alpha/sqrt(r)), AdamW',
  'lora-plus': 'LoRA with B trained at 16x the learning rate of A, AdamW',
  'lora-pro': 'LoRA-Pro AdamW, full mode: Adam moments of the m x n equivalent gradient',
  'lora-pro-efficient': 'LoRA-Pro AdamW, efficient mode: Adam on the adjusted A/B gradients',
  'lora-pro-sgd': 'LoRA-Pro SGD (paper Algorithm 1)',
  dora: 'DoRA: LoRA with a trained magnitude per output row (weight-decomposed), AdamW',
  'lora-fa': 'LoRA-FA: A frozen at its init, B trained on the projected gradient, Adam',
};

/** The method named `name`, or a UsageError listing the methods. */
export function checkMethod(name: string): MethodName {
  if ((METHODS as readonly string[]).includes(name)) return name as MethodName;
  throw new UsageError(`unknown method "${name}"; choose one of: ${METHODS.join(', ')}`);
}

/** Adapter inits by their CLI / run-config name (PEFT's init_lora_weights: true, "gaussian", "pissa", …, "lora_ga"). */
export const INITS = ['default', 'gaussian', 'pissa', 'pissa_niter_K', 'olora', 'lora-ga'] as const;

/** What each init is, for --help and `info`. */
export const INIT_SUMMARIES: Readonly<Record<(typeof INITS)[number], string>> = {
  default: 'kaiming-uniform A, B = 0 (PEFT init_lora_weights: true)',
  gaussian: 'A ~ N(0, 1/r), B = 0',
  pissa: 'PiSSA: A, B from the top-r SVD of W; the base keeps the residual',
  pissa_niter_K: 'PiSSA with a randomized SVD of K subspace iterations (fast on large layers)',
  olora: 'OLoRA: A, B from the QR decomposition of W; the base keeps the residual',
  'lora-ga': 'LoRA-GA: A, B from the SVD of the gradient estimated over --ga-batches batches',
};

/** Our init name → PEFT's init_lora_weights value, or a UsageError listing the inits. */
export function checkInit(name: string): InitLoraWeights {
  if (name === 'default') return true;
  if (name === 'gaussian' || name === 'pissa' || name === 'olora') return name;
  if (name === 'lora-ga' || name === 'lora_ga') return 'lora_ga';
  if (/^pissa_niter_\d+$/.test(name)) return name as InitLoraWeights;
  if (name.startsWith('pissa_niter_')) throw new UsageError(`init "${name}": K of pissa_niter_K must be a whole number of subspace iterations ≥ 0, e.g. pissa_niter_4`);
  throw new UsageError(`unknown init "${name}"; choose one of: ${INITS.join(', ')}`);
}

/** A method with its init, as `compare --methods` and `bench paper --methods` name it: NAME or NAME@INIT. */
export interface MethodVariant {
  /** NAME, or NAME@INIT when the init is not the default: the variant's row and folder name. */
  readonly label: string;
  readonly method: MethodName;
  readonly init: string;
}

/**
 * `lora-pro@pissa` → { method 'lora-pro', init 'pissa' }; a bare name has the default init. The
 * method and the init are checked (an init on `full` is an error).
 *
 * @example
 *   checkVariant('lora@lora-ga') // { label: 'lora@lora-ga', method: 'lora', init: 'lora-ga' }
 */
export function checkVariant(spec: string): MethodVariant {
  const at = spec.indexOf('@');
  const method = checkMethod(at < 0 ? spec : spec.slice(0, at));
  const init = at < 0 ? 'default' : spec.slice(at + 1);
  checkInit(init);
  if (method === 'full' && init !== 'default') throw new UsageError(`"${spec}": --method full has no adapters to initialise`);
  return { label: init === 'default' ? method : `${method}@${init}`, method, init };
}

export interface MethodOptions {
  readonly method: MethodName;
  readonly rank: number;
  readonly alpha: number;
  /** Module names, a regex string, or 'all-linear' (PEFT semantics). */
  readonly targetModules: readonly string[] | string;
  readonly loraDropout: number;
  /** Modules trained in full and saved with the adapter: the classification head. */
  readonly modulesToSave: readonly string[];
  readonly seed: number;
  readonly lr: number;
  readonly weightDecay: number;
  readonly clipNorm?: number;
  /** LoRA+ ratio of B's learning rate to A's. Default 16. */
  readonly loraPlusRatio?: number;
  /** LoRA-Pro SGD momentum. Default 0. */
  readonly momentum?: number;
  /** LoRA-Pro methods: δ of the damped inverses; default each optimiser's own. */
  readonly damping?: number;
  /** How A and B start (PEFT's init_lora_weights). Default true (kaiming-uniform A, B = 0). */
  readonly init?: InitLoraWeights;
  /**
   * LoRA-GA: one loss function per training batch of the gradient estimate (the forward pass is
   * inside; evaluated on the plain model before the adapters are injected).
   */
  readonly gradientLosses?: readonly (() => tf.Scalar)[];
}

export interface MethodSetup {
  readonly method: MethodName;
  readonly optimizer: Optimizer;
  /** Every parameter that receives a gradient, by Hugging Face name. */
  readonly params: Map<string, tf.Variable>;
  /** The adapters' A/B pairs (empty for `full`). */
  readonly pairs: LoraPair[];
  /**
   * Whether the per-layer gradient diagnostic applies (W = W0 + s·B·A, every factor trained): not
   * for DoRA (the magnitude rescales W) nor LoRA-FA (A frozen).
   */
  readonly diagnosable: boolean;
}

export const usesAdapters = (method: MethodName): boolean => method !== 'full';

/**
 * Whether the per-layer gradient diagnostic (LoRA's and LoRA-Pro's updates against the full gradient)
 * applies: adapters with W = W_res + s·B·A whose two factors both train; not DoRA (a row scale) nor
 * LoRA-FA (A frozen).
 */
export const hasDiagnostic = (method: MethodName): boolean => usesAdapters(method) && method !== 'dora' && method !== 'lora-fa';

/** Top-level task heads (`score`, `classifier`) of a classifier: trained in full alongside adapters. */
export function headModules(model: PretrainedModel): string[] {
  return model.headPrefixes.map((p) => p.replace(/\.$/, '')).filter((p) => !p.includes('.'));
}

/**
 * Makes the method's parameters trainable (injecting adapters where it uses them) and builds its
 * optimiser. Non-finite gradients are skipped by the optimiser, so the trainer can stop the run
 * with a message instead of an exception from inside a step.
 *
 * @example
 *   const { optimizer, params } = setupMethod(model, { method: 'lora-pro', rank: 8, alpha: 16, targetModules: 'all-linear', ... });
 */
export function setupMethod(model: PretrainedModel, o: MethodOptions): MethodSetup {
  const common: CommonOptions = { lr: o.lr, weightDecay: o.weightDecay, clipNorm: o.clipNorm, onNonFinite: 'skip' };
  if (o.method === 'full') {
    if (o.init !== undefined && o.init !== true) throw new UsageError(`init "${String(o.init)}" needs adapters; method "full" has none`);
    model.setTrainable(true);
    const params = model.trainableParameters();
    return { method: o.method, optimizer: new AdamW(params, common), params, pairs: [], diagnosable: false };
  }
  const pairs = injectAdapters(model, o);
  if (o.method === 'lora-fa') for (const p of pairs) p.A.trainable = false;
  const params = model.trainableParameters();
  const others = nonLoraParams(params, pairs);
  const diagnosable = hasDiagnostic(o.method);
  return { method: o.method, optimizer: adapterOptimizer(o, params, pairs, others, common), params, pairs, diagnosable };
}

/** The LoRA config of an adapter method's options (a UsageError when they do not make one). */
export function methodLoraConfig(o: MethodOptions, model: PretrainedModel): LoraConfig {
  try {
    return loraConfig({
      r: o.rank,
      loraAlpha: o.alpha,
      targetModules: resolveTargetModules(o.targetModules, model),
      loraDropout: o.loraDropout,
      modulesToSave: o.modulesToSave,
      useRslora: o.method === 'rslora',
      useDora: o.method === 'dora',
      initLoraWeights: o.init ?? true,
      seed: o.seed,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * injectLora with the method's config (after LoRA-GA's gradient pass, when that is the init); its
 * errors (rank too large, no matching module) are usage errors.
 */
function injectAdapters(model: PretrainedModel, o: MethodOptions): LoraPair[] {
  const config = methodLoraConfig(o, model);
  let gradients: Map<string, tf.Tensor2D> | undefined;
  if (config.initLoraWeights === 'lora_ga') {
    if (!o.gradientLosses || o.gradientLosses.length === 0) throw new UsageError('--init lora-ga needs training data: its init estimates each target layer\'s gradient over a few training batches (--ga-batches), and none were given');
    try {
      gradients = estimateLoraGaGradients(model, config, o.gradientLosses);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  try {
    return injectLora(model, config, { gradients });
  } catch (e) {
    throw new UsageError((e as Error).message);
  } finally {
    if (gradients) tf.dispose([...gradients.values()]);
  }
}

function adapterOptimizer(o: MethodOptions, params: Map<string, tf.Variable>, pairs: LoraPair[], others: Map<string, tf.Variable>, common: CommonOptions): Optimizer {
  switch (o.method) {
    case 'lora':
    case 'rslora':
    case 'dora':
      return new AdamW(params, common);
    case 'lora-fa':
      return new LoraFA(pairs, others, common);
    case 'lora-plus':
      return createLoraPlus(params, pairs, { ...common, ratio: o.loraPlusRatio });
    case 'lora-pro':
      return new LoraProAdamW(pairs, others, { ...common, mode: 'full', damping: o.damping });
    case 'lora-pro-efficient':
      return new LoraProAdamW(pairs, others, { ...common, mode: 'efficient', damping: o.damping });
    case 'lora-pro-sgd':
      return new LoraProSGD(pairs, others, { ...common, momentum: o.momentum, damping: o.damping });
    case 'full':
      throw new Error('unreachable: full fine-tuning has no adapters');
  }
}

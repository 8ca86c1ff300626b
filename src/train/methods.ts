// Fine-tuning methods by name: which parameters train and which optimiser updates them.
//   full                all parameters, AdamW
//   lora / rslora       LoRA adapters (s = alpha/r, or alpha/√r), AdamW
//   lora-plus           LoRA with B's learning rate 16× A's (Hayou et al., 2024)
//   lora-pro            LoRA-Pro AdamW, full mode (m×n Adam moments per adapted layer)
//   lora-pro-efficient  LoRA-Pro AdamW, efficient mode (LoRA-sized moments)
//   lora-pro-sgd        LoRA-Pro SGD (paper Algorithm 1)
import type { tf } from '../engine/tf.js';
import { injectLora } from '../adapters/inject.js';
import { resolveTargetModules } from '../adapters/peft-targets.js';
import { loraConfig } from '../adapters/lora-config.js';
import type { PretrainedModel } from '../models/types.js';
import { AdamW } from '../optim/adamw.js';
import { createLoraPlus } from '../optim/lora-plus.js';
import { LoraProAdamW } from '../optim/lora-pro-adamw.js';
import { LoraProSGD } from '../optim/lora-pro-sgd.js';
import { nonLoraParams } from '../optim/lora-pro-pairs.js';
import type { CommonOptions, LoraPair, Optimizer } from '../optim/optimizer.js';
import { UsageError } from './errors.js';

export const METHODS = ['full', 'lora', 'rslora', 'lora-plus', 'lora-pro', 'lora-pro-efficient', 'lora-pro-sgd'] as const;
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
};

/** The method named `name`, or a UsageError listing the methods. */
export function checkMethod(name: string): MethodName {
  if ((METHODS as readonly string[]).includes(name)) return name as MethodName;
  throw new UsageError(`unknown method "${name}"; choose one of: ${METHODS.join(', ')}`);
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
}

export interface MethodSetup {
  readonly method: MethodName;
  readonly optimizer: Optimizer;
  /** Every parameter that receives a gradient, by Hugging Face name. */
  readonly params: Map<string, tf.Variable>;
  /** The adapters' A/B pairs (empty for `full`). */
  readonly pairs: LoraPair[];
}

export const usesAdapters = (method: MethodName): boolean => method !== 'full';

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
    model.setTrainable(true);
    const params = model.trainableParameters();
    return { method: o.method, optimizer: new AdamW(params, common), params, pairs: [] };
  }
  const pairs = injectAdapters(model, o);
  const params = model.trainableParameters();
  const others = nonLoraParams(params, pairs);
  return { method: o.method, optimizer: adapterOptimizer(o, params, pairs, others, common), params, pairs };
}

/** injectLora with the method's config; its errors (rank too large, no matching module) are usage errors. */
function injectAdapters(model: PretrainedModel, o: MethodOptions): LoraPair[] {
  try {
    const config = loraConfig({
      r: o.rank,
      loraAlpha: o.alpha,
      targetModules: resolveTargetModules(o.targetModules, model),
      loraDropout: o.loraDropout,
      modulesToSave: o.modulesToSave,
      useRslora: o.method === 'rslora',
      seed: o.seed,
    });
    return injectLora(model, config);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function adapterOptimizer(o: MethodOptions, params: Map<string, tf.Variable>, pairs: LoraPair[], others: Map<string, tf.Variable>, common: CommonOptions): Optimizer {
  switch (o.method) {
    case 'lora':
    case 'rslora':
      return new AdamW(params, common);
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

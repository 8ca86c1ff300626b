// A method set up from a run's settings: the bridge from a validated config to setupMethod, with
// the data an init needs (LoRA-GA's gradient estimate runs over the run's first training batches).
import type { tf } from '../engine/tf.js';
import { setGradientCheckpointing } from '../models/decoder.js';
import type { AnyModel } from '../models/types.js';
import { BatchStream, batchLoss, type RunExample } from '../data/batches.js';
import type { ResolvedTrainConfig } from './config.js';
import { checkInit, headModules, setupMethod, type MethodSetup } from './methods.js';
import { UsageError } from './errors.js';

/** The training batches of a run's data that feed an init, and the pad id they are padded with. */
export interface InitData {
  readonly data: { readonly train: readonly RunExample[] };
  readonly padId: number;
}

/**
 * LoRA-GA's batches: the first `gaBatches` of the run's own seeded stream (what its first steps
 * train on), each as a loss function with dropout off.
 */
export function gradientLosses(model: AnyModel, config: ResolvedTrainConfig, init: InitData): (() => tf.Scalar)[] {
  if (init.data.train.length === 0) return [];
  const stream = new BatchStream(init.data.train, { batchSize: config.batchSize, seed: config.seed, padId: init.padId }, { epoch: 0, batchIndex: 0 });
  return Array.from({ length: config.gaBatches }, () => {
    const b = stream.next();
    return () => batchLoss(model, b, false);
  });
}

/** setupMethod with a run's settings (a classifier's head is trained in full alongside adapters). */
export function setupForConfig(model: AnyModel, config: ResolvedTrainConfig, data?: InitData): MethodSetup {
  applyGradientCheckpointing(model, config);
  const init = checkInit(config.init);
  return setupMethod(model, {
    method: config.method,
    init,
    gradientLosses: init === 'lora_ga' && data ? gradientLosses(model, config, data) : undefined,
    rank: config.rank,
    alpha: config.alpha,
    targetModules: config.targetModules,
    loraDropout: config.loraDropout,
    modulesToSave: config.task === 'classification' ? headModules(model) : [],
    seed: config.seed,
    lr: config.lr,
    weightDecay: config.weightDecay,
    clipNorm: config.clipNorm,
    loraPlusRatio: config.loraPlusRatio,
    momentum: config.momentum,
    damping: config.damping,
  });
}

/** --gradient-checkpointing on the model (before LoRA-GA's gradient pass, which it serves too), or a UsageError for a model without it. */
function applyGradientCheckpointing(model: AnyModel, config: Pick<ResolvedTrainConfig, 'gradientCheckpointing'>): void {
  if (!config.gradientCheckpointing) return;
  try {
    setGradientCheckpointing(model, true);
  } catch (e) {
    throw new UsageError(`--gradient-checkpointing: ${(e as Error).message}`);
  }
}

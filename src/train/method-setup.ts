// A method set up from a run's settings: the bridge from a validated config to setupMethod.
import type { PretrainedModel } from '../models/types.js';
import type { ResolvedTrainConfig } from './config.js';
import { headModules, setupMethod, type MethodSetup } from './methods.js';

/** setupMethod with a run's settings (a classifier's head is trained in full alongside adapters). */
export function setupForConfig(model: PretrainedModel, config: ResolvedTrainConfig): MethodSetup {
  return setupMethod(model, {
    method: config.method,
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

// LoRA-GA's gradient pass (PEFT: preprocess_loraga / estimate_gradients, huggingface/peft
// src/peft/tuners/lora/loraga.py): before the adapters exist, the full-weight gradient of every
// target linear layer, averaged over a few training batches. injectLora then takes A, B from its SVD.
import { tf } from '../engine/tf.js';
import { getModule, type Module } from '../models/module.js';
import type { Linear } from '../models/linear.js';
import { adapterConfigOf, selectTargets } from './inject.js';
import type { LoraConfig } from './lora-config.js';

/**
 * The mean over `losses` of dL/dW [out, in] for each layer `config` targets, by module path. Each
 * loss function is one batch's loss (forward pass inside). The base weights are made trainable for
 * the pass only; the caller disposes the gradients.
 *
 * @example
 *   const gradients = estimateLoraGaGradients(model, config, batches.map((b) => () => batchLoss(model, b, false)));
 *   injectLora(model, config, { gradients });
 */
export function estimateLoraGaGradients(model: Module, config: LoraConfig, losses: readonly (() => tf.Scalar)[]): Map<string, tf.Tensor2D> {
  if (adapterConfigOf(model)) throw new Error('estimateLoraGaGradients: the model already has adapters; estimate the gradients on the plain model');
  if (losses.length === 0) throw new Error('LoRA-GA needs at least one training batch for its gradient estimate, got none');
  const paths = selectTargets(model, config);
  if (paths.length === 0) throw new Error(`target modules ${JSON.stringify(config.targetModules)} match no linear layer`);
  const weights = paths.map((p) => (getModule(model, p) as Linear).weight);
  const wasTrainable = weights.map((w) => w.trainable);
  weights.forEach((w) => (w.trainable = true));
  let sums: tf.Tensor2D[] = weights.map((w) => tf.zerosLike(w));
  try {
    for (const loss of losses) {
      const next = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(loss, weights);
        value.dispose();
        return weights.map((w, i) => tf.add(sums[i], grads[w.name] ?? tf.zerosLike(w)) as tf.Tensor2D);
      });
      tf.dispose(sums);
      sums = next;
    }
    const n = losses.length;
    const means = sums.map((s) => tf.tidy(() => tf.div(s, n) as tf.Tensor2D));
    return new Map(paths.map((p, i) => [p, means[i]] as const));
  } finally {
    tf.dispose(sums);
    weights.forEach((w, i) => (w.trainable = wasTrainable[i]));
  }
}

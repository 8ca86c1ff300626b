// The per-layer diagnostic logged at evaluation steps: on one batch, how close plain LoRA's and
// LoRA-Pro's equivalent gradients come to the full gradient dL/dW of each adapted layer.
import { tf } from '../engine/tf.js';
import { freeAsBackpropGoes } from '../engine/tape.js';
import { setTraining } from '../adapters/inject.js';
import { LoraLinear } from '../adapters/lora-linear.js';
import { getModule } from '../models/module.js';
import { FrozenLinear } from '../models/frozen-linear.js';
import type { AnyModel } from '../models/types.js';
import { gradientApproximation, type ApproximationQuality } from '../optim/diagnostics.js';
import type { LoraPair } from '../optim/optimizer.js';
import { batchLoss, type HostBatch } from '../data/batches.js';

export interface LayerDiagnostic {
  readonly module: string;
  readonly lora: ApproximationQuality;
  readonly loraPro: ApproximationQuality;
}

/**
 * dL/dW0 of every adapted layer in one backward pass (W = W0 + s·B·A, so dL/dW0 = dL/dW). The
 * frozen base weights are made trainable only for this pass: variableGrads skips frozen variables.
 */
function fullGradients(model: AnyModel, bases: tf.Variable[], batch: HostBatch): tf.Tensor2D[] {
  const wasTrainable = bases.map((v) => v.trainable);
  bases.forEach((v) => (v.trainable = true));
  try {
    const loss = () => {
      const value = batchLoss(model, batch, false);
      freeAsBackpropGoes(); // as the trainer's step: each gradient and saved tensor freed once read
      return value;
    };
    const { value, grads } = tf.variableGrads(loss, bases);
    value.dispose();
    return bases.map((v) => grads[v.name] as tf.Tensor2D);
  } finally {
    bases.forEach((v, i) => (v.trainable = wasTrainable[i]));
  }
}

/**
 * Relative error and cosine of each adapted layer's LoRA and LoRA-Pro equivalent gradients
 * against its full gradient on `batch`, dropout off.
 *
 * @example
 *   const layers = await layerDiagnostics(model, setup.pairs, batch); // [{ module, lora: { relError, cosine }, loraPro: {...} }]
 */
export async function layerDiagnostics(model: AnyModel, pairs: readonly LoraPair[], batch: HostBatch): Promise<LayerDiagnostic[]> {
  if (pairs.length === 0) return [];
  // the full gradient of W needs W as a heap variable; a frozen-tier base has none (engine/frozen.ts)
  if (pairs.some((p) => (getModule(model, p.module) as LoraLinear).base instanceof FrozenLinear)) return [];
  setTraining(model, false);
  const bases = pairs.map((p) => {
    const m = getModule(model, p.module);
    if (!(m instanceof LoraLinear)) throw new Error(`layerDiagnostics: "${p.module}" is not a LoRA layer`);
    return m.baseWeight as tf.Variable;
  });
  const grads = fullGradients(model, bases, batch);
  try {
    const out: LayerDiagnostic[] = [];
    for (const [i, p] of pairs.entries()) out.push({ module: p.module, ...(await gradientApproximation({ A: p.A, B: p.B, scale: p.scale, fullGrad: grads[i] })) });
    return out;
  } finally {
    tf.dispose(grads);
  }
}

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
  // a checkpointed block hands its gradient pass only its own trainable variables: not the float32
  // copies a frozen base is read through here, so this one small pass keeps its activations instead
  const checkpointed = model as { gradientCheckpointing?: boolean };
  const wasCheckpointing = checkpointed.gradientCheckpointing === true;
  if (wasCheckpointing) checkpointed.gradientCheckpointing = false;
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
    if (wasCheckpointing) checkpointed.gradientCheckpointing = true;
  }
}

/** The most float32 copies of frozen base weights the diagnostic makes on the heap for one pass. */
export const DIAGNOSTIC_COPY_BYTES = 256 * 2 ** 20;

/** Whether float32 copies of these frozen bases fit DIAGNOSTIC_COPY_BYTES. */
export function frozenDiagnosticFits(bases: readonly FrozenLinear[]): boolean {
  return bases.reduce((n, b) => n + 4 * b.inFeatures * b.outFeatures, 0) <= DIAGNOSTIC_COPY_BYTES;
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
  const layers = pairs.map((p) => {
    const m = getModule(model, p.module);
    if (!(m instanceof LoraLinear)) throw new Error(`layerDiagnostics: "${p.module}" is not a LoRA layer`);
    return m;
  });
  // The full gradient of W needs W as a heap variable: a base on the frozen tier (engine/frozen.ts)
  // lends a float32 copy for this pass, when the copies fit DIAGNOSTIC_COPY_BYTES; else no diagnostic.
  const frozen = layers.map((m) => m.base).filter((b): b is FrozenLinear => b instanceof FrozenLinear);
  if (!frozenDiagnosticFits(frozen)) return [];
  const copies = new Map(frozen.map((b) => [b, tf.variable(tf.tensor2d(b.frozen.toFloat32(), [b.outFeatures, b.inFeatures], 'float32'), false)]));
  for (const [b, w] of copies) b.useDenseWeight(w);
  setTraining(model, false);
  const bases = layers.map((m) => (m.base instanceof FrozenLinear ? copies.get(m.base)! : m.baseWeight));
  let grads: tf.Tensor2D[];
  try {
    grads = fullGradients(model, bases, batch);
  } finally {
    for (const [b, w] of copies) (b.useDenseWeight(undefined), w.dispose());
  }
  try {
    const out: LayerDiagnostic[] = [];
    for (const [i, p] of pairs.entries()) out.push({ module: p.module, ...(await gradientApproximation({ A: p.A, B: p.B, scale: p.scale, fullGrad: grads[i] })) });
    return out;
  } finally {
    tf.dispose(grads);
  }
}

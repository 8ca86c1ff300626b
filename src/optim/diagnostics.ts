// How close a method's weight update is to the full fine-tuning gradient: the quantity LoRA-Pro
// is about. Given a layer's full gradient g, compare the equivalent gradient g̃ of plain LoRA and
// of LoRA-Pro with g.
import { tf } from '../engine/tf.js';
import { checkLoraInput, equivalentGradient, loraProGradients, type XMode } from './lora-pro.js';

export interface ApproximationQuality {
  /** ||g̃ − g|| / ||g||: 0 is a perfect match; plain LoRA's also reflects its s² scaling. */
  relError: number;
  /** cos(g̃, g), scale-free: 1 is the same direction; 0 when g̃ = 0. */
  cosine: number;
}

export interface GradientApproximation {
  lora: ApproximationQuality;
  loraPro: ApproximationQuality;
}

/** Compares an equivalent gradient with the full gradient, read back as two numbers. */
export async function approximationQuality(gTilde: tf.Tensor, g: tf.Tensor): Promise<ApproximationQuality> {
  const v = tf.tidy(() => tf.stack([tf.sum(tf.square(tf.sub(gTilde, g))), tf.sum(tf.square(g)), tf.sum(tf.square(gTilde)), tf.sum(tf.mul(gTilde, g))]));
  const [diff2, g2, t2, dot] = await v.data();
  v.dispose();
  const gn = Math.sqrt(g2);
  const tn = Math.sqrt(t2);
  return { relError: gn > 0 ? Math.sqrt(diff2) / gn : Math.sqrt(diff2), cosine: gn > 0 && tn > 0 ? dot / (gn * tn) : 0 };
}

/**
 * Plain LoRA's and LoRA-Pro's equivalent gradients against the full gradient of one layer.
 * The LoRA gradients are derived from g (gA = s·Bᵀ·g, gB = s·g·Aᵀ), exactly what backprop gives.
 *
 * @example
 *   const d = await gradientApproximation({ A, B, scale: 2, fullGrad: gW });
 *   console.log(d.lora.cosine, d.loraPro.cosine);
 */
export async function gradientApproximation(opts: { A: tf.Tensor2D; B: tf.Tensor2D; scale: number; fullGrad: tf.Tensor2D; xMode?: XMode }): Promise<GradientApproximation> {
  const { A, B, scale: s, fullGrad: g } = opts;
  if (g.rank !== 2 || g.shape[0] !== B.shape[0] || g.shape[1] !== A.shape[1]) {
    throw new Error(`fullGrad must be [${B.shape[0]}, ${A.shape[1]}] (B rows × A columns), got [${g.shape}]`);
  }
  const gradA = tf.tidy(() => tf.mul(tf.matMul(B, g, true, false), s) as tf.Tensor2D); // [r, n]
  const gradB = tf.tidy(() => tf.mul(tf.matMul(g, A, false, true), s) as tf.Tensor2D); // [m, r]
  checkLoraInput({ A, B, gradA, gradB, scale: s });
  const loraEq = equivalentGradient({ A, B, gradA, gradB, scale: s });
  const lora = await approximationQuality(loraEq, g);
  const adj = await loraProGradients({ A, B, gradA, gradB, scale: s, xMode: opts.xMode });
  const proEq = equivalentGradient({ A, B, gradA: adj.gradA, gradB: adj.gradB, scale: s });
  const loraPro = await approximationQuality(proEq, g);
  tf.dispose([gradA, gradB, loraEq, adj.gradA, adj.gradB, proEq]);
  return { lora, loraPro };
}

// Adapter inits computed from the base layer: PiSSA, OLoRA and LoRA-GA. Each sets A and B from a
// decomposition of W (or of its estimated gradient) and moves s·B·A out of the base weight,
// W_res = W − s·B·A, so that W_res + s·B·A is the original layer at the start. The decompositions
// run in Float64 on the host (src/math/decomp.ts); the m×n products in TF.js.
//
// Checked against PEFT's LoraLayer.pissa_init / olora_init (huggingface/peft,
// src/peft/tuners/lora/layer.py). LoRA-GA: PEFT's lora_ga_init is not in the source index this was
// written against (only src/peft/tuners/lora/loraga.py, the gradient pass), so its A/B follow the
// paper (Wang et al. 2024, "LoRA-GA: Low-Rank Adaptation with Gradient Approximation", §3.2–3.3)
// and its reference code: G = U·S·Vᵀ, A0 = V[:, :r]ᵀ, B0 = U[:, r:2r] (direction "ArB2r"), both
// times ∜(out)/√γ with γ = 16 (scale "stable").
import { tf } from '../engine/tf.js';
import { householderQr, leadingColumns, leadingRows, randomizedSvd, svd, type Svd } from '../math/decomp.js';
import { mat, transpose, type Mat } from '../math/linalg.js';
import { Rng } from '../math/rng.js';
import { pissaIterations, type InitLoraWeights } from './lora-config.js';
import type { LoraLinear } from './lora-linear.js';
import { FrozenLinear } from '../models/frozen-linear.js';

/** LoRA-GA's stable-scale γ (the paper's and PEFT's LoraGAConfig default). */
export const LORA_GA_GAMMA = 16;
/** Subspace iterations of LoRA-GA's randomized SVD of the gradient (PEFT: svd_lowrank(…, niter=4)). */
const LORA_GA_NITER = 4;
/**
 * Seed of the randomized SVDs (pissa_niter_K, LoRA-GA). Fixed, not the run's seed: a raw PiSSA
 * adapter is reloaded by recomputing its init from the base, which must then give the same A0, B0.
 */
const DECOMPOSITION_SEED = 0;

const toMat = (t: tf.Tensor2D): Mat => mat(t.shape[0], t.shape[1], t.dataSync());

/** diag(d)·M: row i times d[i]. */
function scaleRows(m: Mat, d: ArrayLike<number>): Mat {
  const out = mat(m.rows, m.cols, m.data);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[i * m.cols + j] *= d[i];
  return out;
}

/** M·diag(d): column j times d[j]. */
function scaleColumns(m: Mat, d: ArrayLike<number>): Mat {
  const out = mat(m.rows, m.cols, m.data);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[i * m.cols + j] *= d[j];
  return out;
}

/** Columns [from, to) of a row-major matrix. */
function columnRange(m: Mat, from: number, to: number): Mat {
  const out = mat(m.rows, to - from);
  for (let i = 0; i < m.rows; i++) for (let j = from; j < to; j++) out.data[i * (to - from) + j - from] = m.data[i * m.cols + j];
  return out;
}

/**
 * PiSSA (Meng et al., 2024), PEFT's pissa_init: W = V·S·Uᵀ; with S_r/s the top r values scaled
 * down by s, A = diag(√(S_r/s))·U_rᵀ [r, in], B = V_r·diag(√(S_r/s)) [out, r], so s·B·A is W's best
 * rank-r approximation.
 */
export function pissaFactors(w: Mat, r: number, scale: number, niter?: number): { a: Mat; b: Mat } {
  const d: Svd = niter === undefined ? svd(w) : randomizedSvd(w, r, niter, new Rng(DECOMPOSITION_SEED));
  const root = Array.from(d.s.subarray(0, r), (s) => Math.sqrt(s / scale));
  return { a: scaleRows(transpose(leadingColumns(d.v, r)), root), b: scaleColumns(leadingColumns(d.u, r), root) };
}

/** OLoRA (Büyükakyüz, 2024), PEFT's olora_init: W = Q·R; B = Q[:, :r], A = R[:r, :] (not scaled). */
export function oloraFactors(w: Mat, r: number): { a: Mat; b: Mat } {
  const { q, r: rr } = householderQr(w);
  return { a: leadingRows(rr, r), b: leadingColumns(q, r) };
}

/** LoRA-GA: A = V[:, :r]ᵀ, B = U[:, r:2r] of the gradient's SVD, both times ∜(out)/√γ. */
export function loraGaFactors(grad: Mat, r: number): { a: Mat; b: Mat } {
  const k = Math.min(grad.rows, grad.cols);
  if (2 * r > k) throw new Error(`LoRA-GA needs 2·r ≤ min(out, in): r ${r}, layer [${grad.rows}, ${grad.cols}]`);
  const d = randomizedSvd(grad, Math.min(4 * r, k), LORA_GA_NITER, new Rng(DECOMPOSITION_SEED));
  const stable = grad.rows ** 0.25 / Math.sqrt(LORA_GA_GAMMA);
  const a = transpose(leadingColumns(d.v, r));
  const b = columnRange(d.u, r, 2 * r);
  return { a: mat(a.rows, a.cols, a.data.map((v) => v * stable)), b: mat(b.rows, b.cols, b.data.map((v) => v * stable)) };
}

/**
 * Sets `layer`'s A and B by `init` and subtracts s·B·A from its base weight. LoRA-GA needs the
 * layer's estimated full-weight gradient [out, in]. The factors are kept on the layer
 * (`initialFactors`) for converting a saved adapter to one for the original base.
 */
export function initFromBase(layer: LoraLinear, init: InitLoraWeights, gradient?: tf.Tensor2D): void {
  if (layer.isMerged) throw new Error('initFromBase: the adapter is merged');
  if (layer.base instanceof FrozenLinear) {
    throw new Error(`init "${String(init)}" rewrites the base weight to W − s·B·A, and this base is on the frozen tier (quantized, or kept outside the wasm heap); use --quantize none with LORAPRO_BACKEND=wasm, or the default init`);
  }
  const base = layer.base;
  const r = layer.r;
  let f: { a: Mat; b: Mat };
  if (init === 'lora_ga') {
    if (!gradient) throw new Error('LoRA-GA needs the layer\'s estimated gradient (a gradient pass over training batches)');
    if (gradient.shape.join() !== base.weight.shape.join()) throw new Error(`LoRA-GA gradient has shape [${gradient.shape}], the layer [${base.weight.shape}]`);
    f = loraGaFactors(toMat(gradient), r);
  } else if (init === 'olora') {
    f = oloraFactors(toMat(base.weight), r);
  } else if (init === 'pissa' || pissaIterations(init) !== undefined) {
    f = pissaFactors(toMat(base.weight), r, layer.scale, pissaIterations(init));
  } else {
    throw new Error(`initFromBase: "${String(init)}" does not initialise from the base layer`);
  }
  const a = Float32Array.from(f.a.data);
  const b = Float32Array.from(f.b.data);
  tf.tidy(() => {
    const at = tf.tensor2d(a, [r, layer.inFeatures], 'float32');
    const bt = tf.tensor2d(b, [layer.outFeatures, r], 'float32');
    layer.A.assign(at);
    layer.B.assign(bt);
    base.weight.assign(tf.sub(base.weight, tf.mul(tf.matMul(bt, at), layer.scale)) as tf.Tensor2D); // W_res [out, in]
  });
  layer.initialFactors = { a, b };
}

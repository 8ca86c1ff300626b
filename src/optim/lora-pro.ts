// The LoRA-Pro gradient adjustment (Wang et al., ICLR 2025, Theorems 2.1 and 2.3), exact, with the
// r×r algebra in Float64 on the CPU and every layer-sized product in TF.js float32.
//
// Notation (PEFT layout): A [r, n], B [m, r], W = W0 + s·B·A, g = dL/dW [m, n],
// gA_lora = s·Bᵀ·g, gB_lora = s·g·Aᵀ. No m×m or n×n matrix is ever formed.
import { tf } from '../engine/tf.js';
import { nativeGram } from '../engine/fused.js';
import { axpby, dampedInverse, identity, mat, matmul, scale as scaleMat, solveSylvester, transpose, type Mat } from '../math/linalg.js';

export type XMode = 'sylvester' | 'zero' | 'symmetric';
export const X_MODES: readonly XMode[] = ['sylvester', 'zero', 'symmetric'];

export interface LoraProInput {
  A: tf.Tensor2D; // [r, n]
  B: tf.Tensor2D; // [m, r]
  gradA: tf.Tensor2D; // [r, n], plain LoRA gradient (or s·Bᵀ·ĝ for a full-size ĝ)
  gradB: tf.Tensor2D; // [m, r]
  scale: number; // s = alpha / r (or alpha / sqrt(r) with rsLoRA), the adapter's own
  xMode?: XMode;
  damping?: number; // δ in (M + δI)⁻¹, default 1e-8 as the official code
}

export interface LoraProOutput {
  gradA: tf.Tensor2D; // [r, n]
  gradB: tf.Tensor2D; // [m, r]
  X: Mat; // r×r, Float64
}

/** Checks shapes and scalars; errors name the parameter and the shapes or value. */
export function checkLoraInput(input: Omit<LoraProInput, 'xMode' | 'damping'> & { xMode?: string; damping?: number }): void {
  const { A, B, gradA, gradB, scale, xMode, damping } = input;
  if (A.rank !== 2) throw new Error(`A must be 2-D [r, in], got shape [${A.shape}]`);
  if (B.rank !== 2) throw new Error(`B must be 2-D [out, r], got shape [${B.shape}]`);
  const r = A.shape[0];
  if (r < 1) throw new Error(`rank r must be ≥ 1, got A of shape [${A.shape}]`);
  if (B.shape[1] !== r) throw new Error(`B must be [out, ${r}] to match A [${A.shape}], got [${B.shape}]`);
  if (gradA.shape.join() !== A.shape.join()) throw new Error(`gradA shape [${gradA.shape}] differs from A [${A.shape}]`);
  if (gradB.shape.join() !== B.shape.join()) throw new Error(`gradB shape [${gradB.shape}] differs from B [${B.shape}]`);
  if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`scale must be a positive finite number, got ${scale}`);
  if (xMode !== undefined && !X_MODES.includes(xMode as XMode)) throw new Error(`xMode must be one of ${X_MODES.join(', ')}, got "${xMode}"`);
  if (damping !== undefined && !(Number.isFinite(damping) && damping >= 0)) throw new Error(`damping must be ≥ 0, got ${damping}`);
}

/** The four r×r products the adjustment needs. */
export interface Grams {
  BtB: Mat; // Bᵀ·B
  AAt: Mat; // A·Aᵀ
  BtGB: Mat; // Bᵀ·gB
  GAAt: Mat; // gA·Aᵀ
}

/** Σ_k x[k, i]·y[k, j] over the rows of two row-major [rows, r] arrays, accumulated in Float64. */
function gramRows(x: Float32Array, y: Float32Array, rows: number, r: number): Mat {
  const out = mat(r, r);
  const o = out.data;
  for (let k = 0; k < rows; k++) {
    const xo = k * r;
    for (let i = 0; i < r; i++) {
      const xi = x[xo + i];
      if (xi === 0) continue;
      for (let j = 0; j < r; j++) o[i * r + j] += xi * y[xo + j];
    }
  }
  return out;
}

/** Σ_k x[i, k]·y[j, k] over the columns of two row-major [r, cols] arrays, accumulated in Float64. */
function gramCols(x: Float32Array, y: Float32Array, r: number, cols: number): Mat {
  const out = mat(r, r);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < r; j++) {
      let acc = 0;
      for (let k = 0; k < cols; k++) acc += x[i * cols + k] * y[j * cols + k];
      out.data[i * r + j] = acc;
    }
  }
  return out;
}

/** BᵀB and AAᵀ: what depends on the adapter alone, not the gradients. */
export interface FactorGrams {
  BtB: Mat;
  AAt: Mat;
  /** A [r, n] and B [m, r] as read back, off the native engine (kept for the gradient Grams). */
  values?: { a: Float32Array; b: Float32Array };
}

/**
 * The Grams are accumulated in Float64 from the float32 factors: a float32 Gram would carry an
 * error of eps·cond(A)², which its inverse then amplifies (measured: 5e-4 relative at r = n = 8,
 * against 1e-6 this way). On the native engine they are computed on the backend's heap in place
 * (engine/fused.ts nativeGram); elsewhere the factors, only (m + n)·r values, are read back once per
 * step, asynchronously (webgpu in a worker has no working synchronous read-back).
 */
export async function readFactorGrams(A: tf.Tensor2D, B: tf.Tensor2D): Promise<FactorGrams> {
  const [r, n] = A.shape;
  const m = B.shape[0];
  const BtB = nativeGram(B, B, true);
  const AAt = nativeGram(A, A, false);
  if (BtB !== null && AAt !== null) return { BtB: mat(r, r, BtB), AAt: mat(r, r, AAt) };
  const [a, b] = (await Promise.all([A.data(), B.data()])) as Float32Array[];
  return { BtB: gramRows(b, b, m, r), AAt: gramCols(a, a, r, n), values: { a, b } };
}

/** All four Grams; `factors` (from readFactorGrams on the same A, B) saves reading A and B again. */
export async function readGrams(A: tf.Tensor2D, B: tf.Tensor2D, gradA: tf.Tensor2D, gradB: tf.Tensor2D, factors?: FactorGrams): Promise<Grams> {
  const [r, n] = A.shape;
  const m = B.shape[0];
  factors ??= await readFactorGrams(A, B);
  let BtGB: Mat;
  let GAAt: Mat;
  const [nativeB, nativeA] = [nativeGram(B, gradB, true), nativeGram(gradA, A, false)];
  if (nativeB !== null && nativeA !== null) {
    [BtGB, GAAt] = [mat(r, r, nativeB), mat(r, r, nativeA)];
  } else {
    const { a, b } = factors.values ?? { a: (await A.data()) as Float32Array, b: (await B.data()) as Float32Array };
    const [ga, gb] = (await Promise.all([gradA.data(), gradB.data()])) as Float32Array[];
    [BtGB, GAAt] = [gramRows(b, gb, m, r), gramCols(ga, a, r, n)];
  }
  const grams = { BtB: factors.BtB, AAt: factors.AAt, BtGB, GAAt };
  const bad = (Object.keys(grams) as Array<keyof Grams>).find((k) => grams[k].data.some((x) => !Number.isFinite(x)));
  if (bad) {
    const culprit = { BtB: 'B', AAt: 'A', BtGB: 'B or gradB', GAAt: 'A or gradA' }[bad];
    throw new Error(`non-finite values in ${culprit} (A [${A.shape}], B [${B.shape}]): LoRA-Pro cannot adjust NaN/Inf`);
  }
  return grams;
}

/** r×r coefficients such that gA = K1·gA_lora + X·A and gB = gB_lora·K2 − B·(K3 + X). */
export interface Coefficients {
  K1: Mat; // (1/s²)·(BᵀB + δI)⁻¹
  K2: Mat; // (1/s²)·(AAᵀ + δI)⁻¹
  K3: Mat; // (1/s²)·(BᵀB + δI)⁻¹·Bᵀ·gB_lora·(AAᵀ + δI)⁻¹, so that gB_lora·K2 − B·K3 = (1/s²)(I − P_B)·gB_lora·(AAᵀ)⁻¹
  X: Mat;
  /** The Sylvester system P·X + X·Q = C the optimal X solves (Theorem 2.3). */
  P: Mat;
  Q: Mat;
  C: Mat;
}

/** (BᵀB + δI)⁻¹ and (AAᵀ + δI)⁻¹: they depend on the factors alone, so both adjustments of a step share them. */
export interface FactorInverses {
  Pinv: Mat;
  Qinv: Mat;
}

export function factorInverses(g: Pick<Grams, 'BtB' | 'AAt'>, damping: number): FactorInverses {
  return { Pinv: dampedInverse(g.BtB, damping), Qinv: dampedInverse(g.AAt, damping) };
}

/** The Grams of k·gA and k·gB from those of gA and gB (the Grams are linear in the gradients). */
export function scaleGradientGrams(g: Grams, k: number): Grams {
  return { ...g, BtGB: scaleMat(g.BtGB, k), GAAt: scaleMat(g.GAAt, k) };
}

/**
 * Theorem 2.1's minimisers, parameterised by X, and the choice of X.
 * X minimises ||gA − gA_lora||² + ||gB − gB_lora||²; its normal equation is
 *   BᵀB·X + X·AAᵀ = (gA_lora − gA₀)·Aᵀ − Bᵀ·(gB_lora − gB₀)        (gA₀, gB₀: the X = 0 solution)
 * which reduces to the paper's −(1/s²)(BᵀB)⁻¹·gA_lora·Aᵀ when gA_lora, gB_lora are true LoRA
 * gradients; the general form is kept so X stays the exact minimiser for any input.
 * 'symmetric' minimises the same objective over symmetric X: (P+Q)·X + X·(P+Q) = C + Cᵀ.
 */
export function loraProCoefficients(g: Grams, s: number, xMode: XMode, damping: number, inverses: FactorInverses = factorInverses(g, damping)): Coefficients {
  const k = 1 / (s * s);
  const { Pinv, Qinv } = inverses;
  const K1 = scaleMat(Pinv, k);
  const K2 = scaleMat(Qinv, k);
  const K3 = matmul(matmul(K1, g.BtGB), Qinv);
  const P = g.BtB;
  const Q = g.AAt;
  const lhsA = axpby(g.GAAt, 1, matmul(K1, g.GAAt), -1); // (gA_lora − gA₀)·Aᵀ
  const lhsB = axpby(axpby(g.BtGB, 1, matmul(g.BtGB, K2), -1), 1, matmul(P, K3), 1); // Bᵀ·(gB_lora − gB₀)
  const C = axpby(lhsA, 1, lhsB, -1);
  let X: Mat;
  if (xMode === 'zero') X = mat(P.rows, P.rows);
  else if (xMode === 'sylvester') X = solveSylvester(P, Q, C);
  else {
    const S = axpby(P, 1, Q, 1);
    X = solveSylvester(S, S, axpby(C, 1, transpose(C), 1));
  }
  return { K1, K2, K3, X, P, Q, C };
}

const toTensor = (m: Mat): tf.Tensor2D => tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols], 'float32');

/** A block matrix of r×r (or r×c) Mats, row by row, as one float32 tensor. */
function blockTensor(rows: readonly (readonly Mat[])[]): tf.Tensor2D {
  const height = rows.reduce((h, row) => h + row[0].rows, 0);
  const width = rows[0].reduce((w, b) => w + b.cols, 0);
  const out = new Float32Array(height * width);
  let top = 0;
  for (const row of rows) {
    let left = 0;
    for (const b of row) {
      for (let i = 0; i < b.rows; i++) for (let j = 0; j < b.cols; j++) out[(top + i) * width + left + j] = b.data[i * b.cols + j];
      left += b.cols;
    }
    top += row[0].rows;
  }
  return tf.tensor2d(out, [height, width], 'float32');
}

/**
 * Adjusts LoRA's gradients so that the weight update they imply is the orthogonal projection of
 * the full gradient onto {B·M + N·A} (Theorem 2.1), with X from Theorem 2.3 by default.
 *
 * `factors` may carry readFactorGrams(A, B) when the same A and B are adjusted twice in a step.
 *
 * @example
 *   const { gradA, gradB } = await loraProGradients({ A, B, gradA: gA, gradB: gB, scale: alpha / r });
 */
export async function loraProGradients(input: LoraProInput, factors?: FactorGrams): Promise<LoraProOutput> {
  checkLoraInput(input);
  const { A, B, gradA, gradB, scale: s, xMode = 'sylvester', damping = 1e-8 } = input;
  const c = loraProCoefficients(await readGrams(A, B, gradA, gradB, factors), s, xMode, damping);
  const out = tf.tidy(() => {
    const X = toTensor(c.X);
    const gA = tf.add(tf.matMul(toTensor(c.K1), gradA), tf.matMul(X, A)) as tf.Tensor2D; // [r, n]
    const gB = tf.sub(tf.matMul(gradB, toTensor(c.K2)), tf.matMul(B, tf.add(toTensor(c.K3), X))) as tf.Tensor2D; // [m, r]
    return { gA, gB };
  });
  return { gradA: out.gA, gradB: out.gB, X: c.X };
}

/**
 * The weight update one SGD step with these gradients implies, to first order: s·(B·gradA + gradB·A).
 * One product with inner dimension 2r instead of two with r.
 */
export function equivalentGradient(input: Pick<LoraProInput, 'A' | 'B' | 'gradA' | 'gradB' | 'scale'>): tf.Tensor2D {
  checkLoraInput(input);
  const { A, B, gradA, gradB, scale: s } = input;
  return tf.tidy(() => {
    const left = tf.mul(tf.concat([B, gradB], 1), s); // [m, 2r], scaled here rather than the m×n result
    const right = tf.concat([gradA, A], 0); // [2r, n]
    return tf.matMul(left, right) as tf.Tensor2D; // [m, n]
  });
}

/**
 * The equivalent gradient of the X = 0 adjustment, g̃ = s·(B·gA₀ + gB₀·A) (X does not change it:
 * Theorem 2.1's projection P_B·g + (I − P_B)·g·P_A), as one m×n product. With gA₀ = K1·gA and
 * gB₀ = gB·K2 − B·K3:
 *   g̃ = [B, gB] · (s·[[K1, −K3], [0, K2]] · [gA; A])
 * Three kernels in all instead of seven, and the r×r blocks never leave Float64 until the upload.
 */
export function projectedGradient(input: Pick<LoraProInput, 'A' | 'B' | 'gradA' | 'gradB' | 'scale'>, c: Pick<Coefficients, 'K1' | 'K2' | 'K3'>): tf.Tensor2D {
  const { A, B, gradA, gradB, scale: s } = input;
  const r = A.shape[0];
  return tf.tidy(() => {
    const mix = blockTensor([[scaleMat(c.K1, s), scaleMat(c.K3, -s)], [mat(r, r), scaleMat(c.K2, s)]]); // [2r, 2r]
    const right = tf.matMul(mix, tf.concat([gradA, A], 0)); // [2r, n]
    return tf.matMul(tf.concat([B, gradB], 1), right) as tf.Tensor2D; // [m, n]
  });
}

/**
 * One descent step of A and B along their adjusted gradients gA = K1·dA + X·A and
 * gB = dB·K2 − B·(K3 + X), with decoupled weight decay (decay = 1 − lr·wd, as applyUpdate), each factor
 * in one product, lr and decay folded into the r×r blocks:
 *   A ← A·decay − lr·gA = [−lr·K1, decay·I − lr·X] · [dA; A]
 *   B ← B·decay − lr·gB = [dB, B] · [[−lr·K2], [decay·I + lr·(K3 + X)]]
 * `gradScale` k says the tensors passed are dA/k and dB/k (the caller saves scaling them; c must be
 * the coefficients of the true dA, dB).
 */
export function adjustedDescent(
  factors: { A: tf.Variable<tf.Rank.R2>; B: tf.Variable<tf.Rank.R2> },
  grads: { dA: tf.Tensor2D; dB: tf.Tensor2D; gradScale?: number },
  c: Pick<Coefficients, 'K1' | 'K2' | 'K3' | 'X'>,
  lr: number,
  decay: number,
): void {
  const { A, B } = factors;
  const { dA, dB, gradScale: k = 1 } = grads;
  const r = A.shape[0];
  const [nextA, nextB] = tf.tidy(() => {
    const left = blockTensor([[scaleMat(c.K1, -lr * k), axpby(identity(r), decay, c.X, -lr)]]); // [r, 2r]
    const right = blockTensor([[scaleMat(c.K2, -lr * k)], [axpby(identity(r), decay, axpby(c.K3, 1, c.X, 1), lr)]]); // [2r, r]
    return [tf.matMul(left, tf.concat([dA, A], 0)), tf.matMul(tf.concat([dB, B], 1), right)];
  });
  A.assign(nextA);
  B.assign(nextB);
  tf.dispose([nextA, nextB]);
}

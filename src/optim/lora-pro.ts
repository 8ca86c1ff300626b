// The LoRA-Pro gradient adjustment (Wang et al., ICLR 2025, Theorems 2.1 and 2.3), exact, with the
// r×r algebra in Float64 on the CPU and every layer-sized product in TF.js float32.
//
// Notation (PEFT layout): A [r, n], B [m, r], W = W0 + s·B·A, g = dL/dW [m, n],
// gA_lora = s·Bᵀ·g, gB_lora = s·g·Aᵀ. No m×m or n×n matrix is ever formed.
import { tf } from '../engine/tf.js';
import { axpby, dampedInverse, mat, matmul, scale as scaleMat, solveSylvester, transpose, type Mat } from '../math/linalg.js';

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

/** BᵀB and AAᵀ with the factors' values: what depends on the adapter alone, not the gradients. */
export interface FactorGrams {
  a: Float32Array; // A [r, n]
  b: Float32Array; // B [m, r]
  BtB: Mat;
  AAt: Mat;
}

/**
 * The Grams are accumulated in Float64 from the float32 factors: a float32 Gram would carry an
 * error of eps·cond(A)², which its inverse then amplifies (measured: 5e-4 relative at r = n = 8,
 * against 1e-6 this way). The factors are only (m + n)·r values, read once per step, asynchronously
 * (webgpu in a worker has no working synchronous read-back).
 */
export async function readFactorGrams(A: tf.Tensor2D, B: tf.Tensor2D): Promise<FactorGrams> {
  const [r, n] = A.shape;
  const m = B.shape[0];
  const [a, b] = (await Promise.all([A.data(), B.data()])) as Float32Array[];
  return { a, b, BtB: gramRows(b, b, m, r), AAt: gramCols(a, a, r, n) };
}

/** All four Grams; `factors` (from readFactorGrams on the same A, B) saves reading A and B again. */
export async function readGrams(A: tf.Tensor2D, B: tf.Tensor2D, gradA: tf.Tensor2D, gradB: tf.Tensor2D, factors?: FactorGrams): Promise<Grams> {
  const [r, n] = A.shape;
  const m = B.shape[0];
  factors ??= await readFactorGrams(A, B);
  const [ga, gb] = (await Promise.all([gradA.data(), gradB.data()])) as Float32Array[];
  const grams = { BtB: factors.BtB, AAt: factors.AAt, BtGB: gramRows(factors.b, gb, m, r), GAAt: gramCols(ga, factors.a, r, n) };
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

/**
 * Theorem 2.1's minimisers, parameterised by X, and the choice of X.
 * X minimises ||gA − gA_lora||² + ||gB − gB_lora||²; its normal equation is
 *   BᵀB·X + X·AAᵀ = (gA_lora − gA₀)·Aᵀ − Bᵀ·(gB_lora − gB₀)        (gA₀, gB₀: the X = 0 solution)
 * which reduces to the paper's −(1/s²)(BᵀB)⁻¹·gA_lora·Aᵀ when gA_lora, gB_lora are true LoRA
 * gradients; the general form is kept so X stays the exact minimiser for any input.
 * 'symmetric' minimises the same objective over symmetric X: (P+Q)·X + X·(P+Q) = C + Cᵀ.
 */
export function loraProCoefficients(g: Grams, s: number, xMode: XMode, damping: number): Coefficients {
  const k = 1 / (s * s);
  const Pinv = dampedInverse(g.BtB, damping);
  const Qinv = dampedInverse(g.AAt, damping);
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

// Float64 reference helpers for the optimiser tests: an independent route to the quantities the
// TF.js float32 code computes.
import { Matrix, SingularValueDecomposition, pseudoInverse } from 'ml-matrix';
import { tf } from '../engine/tf.js';
import { Rng } from '../math/rng.js';

export function randomTensor(rng: Rng, shape: [number, number], std = 1): tf.Tensor2D {
  return tf.tensor2d(rng.normalArray(shape[0] * shape[1], std), shape, 'float32');
}

export function toMatrix(t: tf.Tensor): Matrix {
  const [rows, cols] = t.shape as [number, number];
  const v = t.dataSync();
  const m = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m.set(i, j, v[i * cols + j]);
  return m;
}

/** P_B·g + (I − P_B)·g·P_A with P_B = B·B⁺ and P_A = A⁺·A, in Float64. */
export function projectionReference(A: Matrix, B: Matrix, g: Matrix): Matrix {
  const PB = B.mmul(pseudoInverse(B));
  const PA = pseudoInverse(A).mmul(A);
  const I = Matrix.eye(B.rows);
  return PB.mmul(g).add(I.sub(PB).mmul(g).mmul(PA));
}

export function relativeError(a: Matrix, b: Matrix): number {
  return a.clone().sub(b).norm() / Math.max(b.norm(), 1e-300);
}

export function dot(a: Matrix, b: Matrix): number {
  let s = 0;
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.columns; j++) s += a.get(i, j) * b.get(i, j);
  return s;
}

/** Plain LoRA gradients from a full gradient: gA = s·Bᵀ·g, gB = s·g·Aᵀ. */
export function loraGradsFromFull(A: tf.Tensor2D, B: tf.Tensor2D, g: tf.Tensor2D, s: number): { gradA: tf.Tensor2D; gradB: tf.Tensor2D } {
  return tf.tidy(() => ({
    gradA: tf.mul(tf.matMul(B, g, true, false), s) as tf.Tensor2D,
    gradB: tf.mul(tf.matMul(g, A, false, true), s) as tf.Tensor2D,
  }));
}

/**
 * A random Gaussian matrix redrawn until its condition number is at most maxCond. The LoRA
 * gradients arrive in float32, so any implementation's error is at least eps·cond(A) (the map
 * gB_lora → gB_lora·(AAᵀ)⁻¹·A amplifies input rounding by cond(A)); a square Gaussian draw can
 * have cond in the hundreds, which would test float32 rounding rather than the method.
 */
export function wellConditioned(rng: Rng, shape: [number, number], maxCond = 50): tf.Tensor2D {
  for (;;) {
    const t = randomTensor(rng, shape);
    const m = toMatrix(t);
    const svd = new SingularValueDecomposition(m.rows >= m.columns ? m : m.transpose());
    if (svd.condition <= maxCond) return t;
    t.dispose();
  }
}

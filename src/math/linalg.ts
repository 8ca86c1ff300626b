// Small dense linear algebra in Float64 for the r×r systems of LoRA-Pro. TF.js has no solve, inverse
// or eigendecomposition, and these matrices are tiny (r ≤ a few hundred), so they live on the CPU.
import { EigenvalueDecomposition, Matrix, inverse } from 'ml-matrix';

/** A dense row-major Float64 matrix. */
export interface Mat {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array; // [rows * cols], row-major
}

export function mat(rows: number, cols: number, data?: ArrayLike<number>): Mat {
  if (data !== undefined && data.length !== rows * cols) {
    throw new Error(`mat: expected ${rows}×${cols} = ${rows * cols} values, got ${data.length}`);
  }
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

export function identity(n: number, scale = 1): Mat {
  const m = mat(n, n);
  for (let i = 0; i < n; i++) m.data[i * n + i] = scale;
  return m;
}

export function transpose(a: Mat): Mat {
  const t = mat(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j];
  return t;
}

export function matmul(a: Mat, b: Mat): Mat {
  if (a.cols !== b.rows) throw new Error(`matmul: inner dimensions differ: ${a.rows}×${a.cols} · ${b.rows}×${b.cols}`);
  const out = mat(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) {
    for (let k = 0; k < a.cols; k++) {
      const aik = a.data[i * a.cols + k];
      if (aik === 0) continue;
      for (let j = 0; j < b.cols; j++) out.data[i * b.cols + j] += aik * b.data[k * b.cols + j];
    }
  }
  return out;
}

/** a·alpha + b·beta, elementwise. */
export function axpby(a: Mat, alpha: number, b: Mat, beta: number): Mat {
  assertSameShape(a, b, 'axpby');
  const out = mat(a.rows, a.cols);
  for (let i = 0; i < out.data.length; i++) out.data[i] = alpha * a.data[i] + beta * b.data[i];
  return out;
}

export function scale(a: Mat, alpha: number): Mat {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * alpha) };
}

export function frobenius(a: Mat): number {
  let s = 0;
  for (const v of a.data) s += v * v;
  return Math.sqrt(s);
}

function assertSameShape(a: Mat, b: Mat, what: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`${what}: shapes differ: ${a.rows}×${a.cols} vs ${b.rows}×${b.cols}`);
}

function assertSquare(a: Mat, what: string): void {
  if (a.rows !== a.cols) throw new Error(`${what} must be square, got ${a.rows}×${a.cols}`);
}

function assertFinite(a: Mat, what: string): void {
  for (const v of a.data) if (!Number.isFinite(v)) throw new Error(`${what} contains a non-finite value (${v})`);
}

const toMl = (a: Mat): Matrix => {
  const m = new Matrix(a.rows, a.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) m.set(i, j, a.data[i * a.cols + j]);
  return m;
};

const fromMl = (m: Matrix): Mat => mat(m.rows, m.columns, m.to1DArray());

/**
 * Eigendecomposition of a symmetric matrix, M = U·diag(values)·Uᵀ with orthonormal U
 * (Householder tridiagonalisation + QL, via ml-matrix). The input is symmetrised first so that
 * float32 round-off in a Gram matrix cannot produce complex eigenvalues.
 */
export function symmetricEigen(m: Mat): { values: Float64Array; vectors: Mat } {
  assertSquare(m, 'symmetricEigen input');
  assertFinite(m, 'symmetricEigen input');
  const sym = axpby(m, 0.5, transpose(m), 0.5);
  const e = new EigenvalueDecomposition(toMl(sym), { assumeSymmetric: true });
  return { values: Float64Array.from(e.realEigenvalues), vectors: fromMl(e.eigenvectorMatrix) };
}

/**
 * (M + δ·I)⁻¹, the damped inverse the official LoRA-Pro code uses as a pseudo-inverse
 * (δ = 1e-8). With M = 0 (B at initialisation) it is I/δ, which the LoRA-Pro formulas multiply by
 * zero gradients, so no special first-step branch is needed.
 */
export function dampedInverse(m: Mat, damping = 1e-8): Mat {
  assertSquare(m, 'dampedInverse input');
  assertFinite(m, 'dampedInverse input');
  if (!(damping >= 0)) throw new Error(`dampedInverse: damping must be ≥ 0, got ${damping}`);
  const inv = fromMl(inverse(toMl(axpby(m, 1, identity(m.rows), damping))));
  assertFinite(inv, `dampedInverse result (matrix is singular; damping ${damping})`);
  return inv;
}

/**
 * Solves P·X + X·Q = C for symmetric positive semi-definite P (n×n) and Q (k×k), C n×k.
 * With P = U·diag(λ)·Uᵀ and Q = V·diag(μ)·Vᵀ: X = U·[(Uᵀ·C·V)ᵢⱼ / (λᵢ + μⱼ)]·Vᵀ, all real.
 * Where λᵢ + μⱼ is zero (both singular in the same direction) the equation leaves that component
 * free and it is set to 0, the minimum-norm solution.
 */
export function solveSylvester(p: Mat, q: Mat, c: Mat): Mat {
  assertSquare(p, 'solveSylvester P');
  assertSquare(q, 'solveSylvester Q');
  if (c.rows !== p.rows || c.cols !== q.rows) {
    throw new Error(`solveSylvester: C must be ${p.rows}×${q.rows}, got ${c.rows}×${c.cols}`);
  }
  assertFinite(c, 'solveSylvester C');
  const { values: lambda, vectors: u } = symmetricEigen(p);
  const { values: mu, vectors: v } = symmetricEigen(q);
  const f = matmul(matmul(transpose(u), c), v); // [n, k]
  const tiny = 1e-300 + 1e-14 * (Math.max(0, ...lambda) + Math.max(0, ...mu));
  for (let i = 0; i < f.rows; i++) {
    for (let j = 0; j < f.cols; j++) {
      const d = lambda[i] + mu[j];
      f.data[i * f.cols + j] = Math.abs(d) > tiny ? f.data[i * f.cols + j] / d : 0;
    }
  }
  return matmul(matmul(u, f), transpose(v));
}

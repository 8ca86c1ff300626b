import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, solve } from 'ml-matrix';
import { Rng } from './rng.js';
import { axpby, dampedInverse, frobenius, identity, mat, matmul, solveSylvester, symmetricEigen, transpose, type Mat } from './linalg.js';

function randn(rng: Rng, rows: number, cols: number): Mat {
  return mat(rows, cols, Array.from({ length: rows * cols }, () => rng.normal()));
}

/** A random symmetric PSD matrix of the given rank (a Gram matrix, like BᵀB or AAᵀ). */
function gram(rng: Rng, n: number, rank: number): Mat {
  const f = randn(rng, rank, n);
  return matmul(transpose(f), f);
}

/**
 * Independent route: vec(P·X + X·Q) = (I ⊗ P + Qᵀ ⊗ I)·vec(X) with column-major vec, solved by LU.
 */
function kroneckerSylvester(p: Mat, q: Mat, c: Mat): Mat {
  const n = p.rows, k = q.rows, N = n * k;
  const big = new Matrix(N, N);
  const rhs = new Matrix(N, 1);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < n; i++) {
      const row = j * n + i;
      rhs.set(row, 0, c.data[i * k + j]);
      for (let a = 0; a < n; a++) big.set(row, j * n + a, big.get(row, j * n + a) + p.data[i * n + a]);
      for (let b = 0; b < k; b++) big.set(row, b * n + i, big.get(row, b * n + i) + q.data[b * k + j]);
    }
  }
  const x = solve(big, rhs);
  const out = mat(n, k);
  for (let j = 0; j < k; j++) for (let i = 0; i < n; i++) out.data[i * k + j] = x.get(j * n + i, 0);
  return out;
}

const relErr = (a: Mat, b: Mat) => frobenius(axpby(a, 1, b, -1)) / Math.max(frobenius(b), 1e-300);

test('symmetric eigendecomposition reconstructs M with orthonormal vectors', () => {
  const rng = new Rng(1);
  for (const n of [1, 2, 5, 16]) {
    const m = gram(rng, n, n);
    const { values, vectors: u } = symmetricEigen(m);
    const lambda = mat(n, n);
    values.forEach((v, i) => (lambda.data[i * n + i] = v));
    assert.ok(relErr(matmul(matmul(u, lambda), transpose(u)), m) < 1e-12, `n=${n}: U·Λ·Uᵀ ≠ M`);
    assert.ok(relErr(matmul(transpose(u), u), identity(n)) < 1e-12, `n=${n}: UᵀU ≠ I`);
    for (const v of values) assert.ok(v > -1e-10, `n=${n}: PSD matrix has eigenvalue ${v}`);
  }
});

test('damped inverse: (M + δI)·inv = I, and M = 0 gives I/δ', () => {
  const rng = new Rng(2);
  const m = gram(rng, 6, 6);
  const inv = dampedInverse(m, 1e-8);
  assert.ok(relErr(matmul(axpby(m, 1, identity(6), 1e-8), inv), identity(6)) < 1e-10);
  const z = dampedInverse(mat(3, 3), 1e-8);
  assert.ok(relErr(z, identity(3, 1e8)) < 1e-12);
});

test('Sylvester solve matches an independent Kronecker-product solve', () => {
  const rng = new Rng(3);
  for (const [n, k] of [[1, 1], [3, 3], [4, 7], [8, 8], [12, 5]]) {
    const p = gram(rng, n, n);
    const q = gram(rng, k, k);
    const c = randn(rng, n, k);
    const x = solveSylvester(p, q, c);
    const ref = kroneckerSylvester(p, q, c);
    assert.ok(relErr(x, ref) < 1e-9, `${n}×${k}: differs from the Kronecker solve by ${relErr(x, ref)}`);
    const residual = relErr(axpby(matmul(p, x), 1, matmul(x, q), 1), c);
    assert.ok(residual < 1e-9, `${n}×${k}: relative residual ${residual}`);
  }
});

test('Sylvester with a singular P (B = 0 at the first step) still solves when Q is definite', () => {
  const rng = new Rng(4);
  const p = mat(4, 4); // BᵀB with B = 0
  const q = gram(rng, 4, 4);
  const c = randn(rng, 4, 4);
  const x = solveSylvester(p, q, c);
  assert.ok(relErr(matmul(x, q), c) < 1e-9);
});

test('bad inputs name the matrix and its shape', () => {
  assert.throws(() => solveSylvester(mat(2, 3), identity(2), mat(2, 2)), /solveSylvester P must be square, got 2×3/);
  assert.throws(() => solveSylvester(identity(2), identity(3), mat(2, 2)), /C must be 2×3, got 2×2/);
  assert.throws(() => dampedInverse(mat(1, 1, [NaN])), /non-finite value \(NaN\)/);
  assert.throws(() => mat(2, 2, [1, 2, 3]), /expected 2×2 = 4 values, got 3/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { householderQr, randomizedSvd, svd } from './decomp.js';
import { frobenius, axpby, identity, mat, matmul, transpose, type Mat } from './linalg.js';
import { Rng } from './rng.js';

const randn = (rng: Rng, rows: number, cols: number): Mat => mat(rows, cols, Array.from({ length: rows * cols }, () => rng.normal()));
const diag = (d: ArrayLike<number>): Mat => {
  const m = mat(d.length, d.length);
  for (let i = 0; i < d.length; i++) m.data[i * d.length + i] = d[i];
  return m;
};
const err = (a: Mat, b: Mat) => frobenius(axpby(a, 1, b, -1));

for (const [rows, cols] of [[7, 4], [4, 7], [5, 5]] as const) {
  test(`svd of a ${rows}×${cols} matrix: orthonormal factors, descending values, U·S·Vᵀ = M`, () => {
    const m = randn(new Rng(rows * 10 + cols), rows, cols);
    const { u, s, v } = svd(m);
    const k = Math.min(rows, cols);
    assert.equal(u.cols, k);
    assert.equal(v.cols, k);
    assert.ok(err(matmul(transpose(u), u), identity(k)) < 1e-10);
    assert.ok(err(matmul(transpose(v), v), identity(k)) < 1e-10);
    for (let i = 1; i < k; i++) assert.ok(s[i - 1] >= s[i]);
    assert.ok(err(matmul(matmul(u, diag(s)), transpose(v)), m) < 1e-10);
  });

  test(`householderQr of a ${rows}×${cols} matrix: Q orthonormal, R upper, Q·R = M, LAPACK's signs`, () => {
    const m = randn(new Rng(rows * 7 + cols), rows, cols);
    const { q, r } = householderQr(m);
    const k = Math.min(rows, cols);
    assert.deepEqual([q.rows, q.cols, r.rows, r.cols], [rows, k, k, cols]);
    assert.ok(err(matmul(transpose(q), q), identity(k)) < 1e-12);
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) assert.equal(r.data[i * cols + j], 0);
    assert.ok(err(matmul(q, r), m) < 1e-12);
    // dlarfg: the first reflector maps column 0 to β·e₁, β = −sign(m₀₀)·‖m[:, 0]‖
    const norm0 = Math.hypot(...Array.from({ length: rows }, (_, i) => m.data[i * cols]));
    assert.ok(Math.abs(r.data[0] - -Math.sign(m.data[0]) * norm0) < 1e-12, `R₀₀ ${r.data[0]}, expected ${-Math.sign(m.data[0]) * norm0}`);
  });
}

test('randomizedSvd recovers the singular values of an exactly rank-3 matrix and its best approximation', () => {
  const rng = new Rng(4);
  // M = Q1·diag(5, 3, 1)·Q2ᵀ with orthonormal Q1 [9, 3], Q2 [6, 3] (from QR of random matrices)
  const q1 = householderQr(randn(rng, 9, 3)).q;
  const q2 = householderQr(randn(rng, 6, 3)).q;
  const m = matmul(matmul(q1, diag([5, 3, 1])), transpose(q2));
  const d = randomizedSvd(m, 3, 2, new Rng(0));
  assert.deepEqual(Array.from(d.s, (v) => Number(v.toFixed(9))), [5, 3, 1]);
  assert.ok(err(matmul(matmul(d.u, diag(d.s)), transpose(d.v)), m) < 1e-9);
  // rank 2: the error of the best rank-2 approximation is the third singular value (Eckart–Young)
  const d2 = randomizedSvd(m, 2, 4, new Rng(0));
  assert.ok(Math.abs(err(matmul(matmul(d2.u, diag(d2.s)), transpose(d2.v)), m) - 1) < 1e-6);
  assert.throws(() => randomizedSvd(m, 7, 1, new Rng(0)), /q must be an integer in \[1, 6\]/);
});

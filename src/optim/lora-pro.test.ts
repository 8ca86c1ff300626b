import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix } from 'ml-matrix';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { axpby, frobenius, matmul } from '../math/linalg.js';
import { equivalentGradient, loraProCoefficients, loraProGradients, X_MODES } from './lora-pro.js';
import { dot, loraGradsFromFull, projectionReference, randomTensor, relativeError, toMatrix, wellConditioned } from './test-utils.js';

// [m, n, r]: r = 1, a typical small rank, r = min(m, n) on either side, and a wide layer.
const SHAPES: Array<[number, number, number]> = [[10, 7, 1], [24, 16, 4], [16, 8, 8], [9, 20, 9], [32, 48, 6]];

for (const backend of ['wasm', 'cpu']) {
  test(`[${backend}] LoRA-Pro's equivalent gradient is the projection P_B·g + (I − P_B)·g·P_A for every xMode`, async () => {
    await useBackend(backend);
    const rng = new Rng(11);
    for (const [m, n, r] of SHAPES) {
      const s = 2;
      const A = wellConditioned(rng, [r, n]);
      const B = wellConditioned(rng, [m, r]);
      const g = randomTensor(rng, [m, n]);
      const { gradA, gradB } = loraGradsFromFull(A, B, g, s);
      const gM = toMatrix(g);
      const ref = projectionReference(toMatrix(A), toMatrix(B), gM);
      const loraEq = toMatrix(equivalentGradient({ A, B, gradA, gradB, scale: s }));
      const loraDist = relativeError(loraEq, gM);
      for (const xMode of X_MODES) {
        const out = await loraProGradients({ A, B, gradA, gradB, scale: s, xMode });
        const eq = toMatrix(equivalentGradient({ A, B, gradA: out.gradA, gradB: out.gradB, scale: s }));
        const err = relativeError(eq, ref);
        assert.ok(err < 1e-4, `${m}×${n} r=${r} ${xMode}: relative error ${err.toExponential(2)} vs the projection`);
        const proDist = relativeError(eq, gM);
        assert.ok(proDist <= loraDist + 1e-6, `${m}×${n} r=${r} ${xMode}: LoRA-Pro ${proDist} farther from g than LoRA ${loraDist}`);
        assert.ok(dot(gM, eq) >= -1e-6 * gM.norm() ** 2, `${m}×${n} r=${r} ${xMode}: ⟨g, g̃⟩ < 0`);
        tf.dispose([out.gradA, out.gradB]);
      }
      tf.dispose([A, B, g, gradA, gradB]);
    }
  });
}

test('X from Theorem 2.3 solves its Sylvester equation and minimises the distance to the LoRA gradients', async () => {
  await useBackend('cpu');
  const rng = new Rng(12);
  for (const [m, n, r] of SHAPES) {
    const s = 0.5;
    const A = randomTensor(rng, [r, n]);
    const B = randomTensor(rng, [m, r]);
    const g = randomTensor(rng, [m, n]);
    const { gradA, gradB } = loraGradsFromFull(A, B, g, s);
    const [Am, Bm, gAm, gBm] = [A, B, gradA, gradB].map(toMatrix);
    // The solver on its own system, in Float64.
    const toMat = (x: Matrix) => ({ rows: x.rows, cols: x.columns, data: Float64Array.from(x.to1DArray()) });
    const grams = {
      BtB: toMat(Bm.transpose().mmul(Bm)),
      AAt: toMat(Am.mmul(Am.transpose())),
      BtGB: toMat(Bm.transpose().mmul(gBm)),
      GAAt: toMat(gAm.mmul(Am.transpose())),
    };
    const c = loraProCoefficients(grams, s, 'sylvester', 1e-8);
    const residual = frobenius(axpby(axpby(matmul(c.P, c.X), 1, matmul(c.X, c.Q), 1), 1, c.C, -1)) / frobenius(c.C);
    assert.ok(residual < 1e-9, `${m}×${n} r=${r}: Sylvester relative residual ${residual}`);
    // Its right-hand side is the paper's −(1/s²)(BᵀB)⁻¹·gA_lora·Aᵀ for true LoRA gradients.
    const BtB = Bm.transpose().mmul(Bm);
    const paperC = new Matrix(BtB.rows, BtB.rows);
    const inv = toMatrix(tf.tensor2d(Float32Array.from(matmul(c.K1, grams.GAAt).data), [r, r]));
    paperC.add(inv.mul(-1));
    const cM = new Matrix([...Array(r)].map((_, i) => Array.from(c.C.data.subarray(i * r, (i + 1) * r))));
    assert.ok(relativeError(cM, paperC) < 1e-6, `${m}×${n} r=${r}: C differs from the paper's right-hand side`);

    // No small perturbation of X lowers ||gA − gA_lora||² + ||gB − gB_lora||² (computed in Float64).
    const out = await loraProGradients({ A, B, gradA, gradB, scale: s, xMode: 'sylvester' });
    const gA0 = toMatrix(out.gradA).sub(new Matrix([...Array(r)].map((_, i) => Array.from(out.X.data.subarray(i * r, (i + 1) * r)))).mmul(Am));
    const gB0 = toMatrix(out.gradB).add(Bm.mmul(new Matrix([...Array(r)].map((_, i) => Array.from(out.X.data.subarray(i * r, (i + 1) * r))))));
    const objective = (X: Matrix) =>
      gA0.clone().add(X.mmul(Am)).sub(gAm).norm() ** 2 + gB0.clone().sub(Bm.mmul(X)).sub(gBm).norm() ** 2;
    const X = new Matrix([...Array(r)].map((_, i) => Array.from(out.X.data.subarray(i * r, (i + 1) * r))));
    const best = objective(X);
    const step = 1e-2 * Math.max(X.norm(), 1e-3) / r;
    for (let trial = 0; trial < 20; trial++) {
      const E = Matrix.rand(r, r, { random: () => rng.normal() }).mul(step);
      assert.ok(objective(X.clone().add(E)) >= best * (1 - 1e-9), `${m}×${n} r=${r}: a perturbation of X lowered the objective`);
    }
    // And the symmetric variant is symmetric and no better than the unconstrained minimiser.
    const sym = await loraProGradients({ A, B, gradA, gradB, scale: s, xMode: 'symmetric' });
    const Xs = new Matrix([...Array(r)].map((_, i) => Array.from(sym.X.data.subarray(i * r, (i + 1) * r))));
    assert.ok(relativeError(Xs, Xs.transpose()) < 1e-12, 'symmetric X is not symmetric');
    assert.ok(objective(Xs) >= best * (1 - 1e-6), 'the symmetric X beat the unconstrained minimiser');
    tf.dispose([A, B, g, gradA, gradB, out.gradA, out.gradB, sym.gradA, sym.gradB]);
  }
});

test('first step (B = 0): gA = 0, X = 0 and g̃ = g·P_A with no NaN or Inf', async () => {
  await useBackend('wasm');
  const rng = new Rng(13);
  const [m, n, r, s] = [12, 10, 3, 2];
  const A = randomTensor(rng, [r, n]);
  const B = tf.zeros([m, r], 'float32') as tf.Tensor2D;
  const g = randomTensor(rng, [m, n]);
  const { gradA, gradB } = loraGradsFromFull(A, B, g, s);
  for (const xMode of X_MODES) {
    const out = await loraProGradients({ A, B, gradA, gradB, scale: s, xMode });
    assert.ok(out.X.data.every((x) => x === 0), `${xMode}: X ≠ 0`);
    assert.ok((await out.gradA.data()).every((x) => x === 0), `${xMode}: gA ≠ 0`);
    assert.ok((await out.gradB.data()).every(Number.isFinite), `${xMode}: gB not finite`);
    const eq = toMatrix(equivalentGradient({ A, B, gradA: out.gradA, gradB: out.gradB, scale: s }));
    const ref = projectionReference(toMatrix(A), new Matrix(m, r), toMatrix(g)); // P_B = 0 ⇒ g·P_A
    assert.ok(relativeError(eq, ref) < 1e-4, `${xMode}: g̃ ≠ g·P_A`);
  }
});

test('bad inputs are refused with the parameter and its shape or value', async () => {
  await useBackend('cpu');
  const rng = new Rng(14);
  const A = randomTensor(rng, [2, 5]);
  const B = randomTensor(rng, [4, 2]);
  const gA = randomTensor(rng, [2, 5]);
  const gB = randomTensor(rng, [4, 2]);
  const base = { A, B, gradA: gA, gradB: gB, scale: 1 };
  await assert.rejects(() => loraProGradients({ ...base, B: randomTensor(rng, [4, 3]) }), /B must be \[out, 2\] to match A \[2,5\], got \[4,3\]/);
  await assert.rejects(() => loraProGradients({ ...base, gradA: randomTensor(rng, [2, 4]) }), /gradA shape \[2,4\] differs from A \[2,5\]/);
  await assert.rejects(() => loraProGradients({ ...base, A: tf.zeros([0, 5]) as tf.Tensor2D, B: tf.zeros([4, 0]) as tf.Tensor2D }), /rank r must be ≥ 1/);
  await assert.rejects(() => loraProGradients({ ...base, scale: 0 }), /scale must be a positive finite number, got 0/);
  await assert.rejects(() => loraProGradients({ ...base, xMode: 'magic' as never }), /xMode must be one of sylvester, zero, symmetric, got "magic"/);
  const nanA = tf.tensor2d([[NaN, 0, 0, 0, 0], [0, 1, 0, 0, 0]]);
  await assert.rejects(() => loraProGradients({ ...base, A: nanA }), /non-finite values in A \(A \[2,5\], B \[4,2\]\)/);
  const nanB = tf.tensor2d([[Infinity, 0], [0, 1], [1, 1], [0, 0]]);
  await assert.rejects(() => loraProGradients({ ...base, B: nanB }), /non-finite values in B/);
});

test('loraProGradients and equivalentGradient leave no tensors behind', async () => {
  await useBackend('wasm');
  const rng = new Rng(15);
  const A = randomTensor(rng, [4, 16]);
  const B = randomTensor(rng, [12, 4]);
  const gA = randomTensor(rng, [4, 16]);
  const gB = randomTensor(rng, [12, 4]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const out = await loraProGradients({ A, B, gradA: gA, gradB: gB, scale: 2 });
    const eq = equivalentGradient({ A, B, gradA: out.gradA, gradB: out.gradB, scale: 2 });
    tf.dispose([out.gradA, out.gradB, eq]);
  }
  assert.equal(tf.memory().numTensors, before);
});

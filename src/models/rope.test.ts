import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { rotateHalf, ropeCosSin, ropeCosSinRange, ropeInvFreq } from './rope.js';
import { positionIdsRange } from './attention.js';
import { assertClose } from './testing.js';

test('llama3 rope scaling keeps high, divides low and blends middle frequencies', () => {
  // head_dim 16, θ_i = 10000^(−i/8). With L = 32, low = 1, high = 4: wavelengths below 8 are kept,
  // above 32 divided by 8, and between blended with s = (32/λ − 1)/3.
  const inv = ropeInvFreq(16, 10000, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 32 });
  const t1 = Math.pow(10000, -1 / 8); // λ = 2π/t1 ≈ 19.87: the blended band
  const s = (32 / ((2 * Math.PI) / t1) - 1) / 3;
  assertClose(inv.slice(0, 3), [1, (1 - s) * (t1 / 8) + s * t1, 0.1 / 8], 1e-6, 'inv_freq');
});

test('linear rope scaling divides every frequency; no scaling is the plain geometric series', () => {
  assertClose(ropeInvFreq(4, 100), [1, 0.1], 1e-7, 'default');
  assertClose(ropeInvFreq(4, 100, { type: 'linear', factor: 2 }), [0.5, 0.05], 1e-7, 'linear');
  assert.throws(() => ropeInvFreq(5, 100), /even head_dim/);
});

// rotate_half by its definition (split, negate, concat), taped op by op: an independent route.
const rotateHalfByConcat = (x: tf.Tensor) => {
  const [x1, x2] = tf.split(x, 2, -1);
  return tf.concat([tf.neg(x2), x1], -1);
};

for (const backend of ['cpu', 'wasm'] as const) {
  test(`rotateHalf on ${backend} equals cat(−x₂, x₁) exactly, and so does its gradient`, async () => {
    await useBackend(backend);
    const x = tf.randomUniform([2, 3, 4, 8], -2, 2, 'float32', 1) as tf.Tensor4D;
    const dy = tf.randomUniform([2, 3, 4, 8], -1, 1, 'float32', 2);
    const got = [rotateHalf(x), tf.grad((t: tf.Tensor) => rotateHalf(t as tf.Tensor4D))(x, dy)];
    const want = [rotateHalfByConcat(x), tf.grad(rotateHalfByConcat)(x, dy)];
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(got[i].shape, want[i].shape);
      assert.deepEqual(Array.from(await got[i].data(), (v) => v + 0), Array.from(await want[i].data(), (v) => v + 0), ['value', 'gradient'][i]);
    }
    tf.dispose([x, dy, ...got, ...want]);
  });
}

test('cos/sin of a position range computed on the host equal the tensor route over the same positions', async () => {
  await useBackend('cpu');
  for (const [B, T, past, hd, theta] of [[2, 7, 0, 8, 10000], [1, 129, 40, 64, 500000], [3, 1, 1000, 16, 10000]]) {
    const inv = ropeInvFreq(hd, theta);
    const ids = positionIdsRange(B, T, past);
    const want = ropeCosSin(ids, inv);
    const got = ropeCosSinRange(B, T, past, inv);
    for (const k of ['cos', 'sin'] as const) {
      assert.deepEqual(got[k].shape, [B, 1, T, hd]);
      const [g, w] = [got[k].dataSync(), want[k].dataSync()];
      // same float32 angles; the host's cos/sin are correctly rounded, cpu's within a few ulp of them
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - w[i]) < 4e-7, `B ${B} T ${T} past ${past} ${k}[${i}]: ${g[i]} vs ${w[i]}`);
    }
    tf.dispose([ids, want.cos, want.sin, got.cos, got.sin]);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { geluNew, layerNorm, rmsNorm } from './layers.js';

// The formula as Hugging Face's NewGELUActivation writes it, differentiated by TF.js op by op: an
// independent route to geluNew's fused value and hand-written derivative.
const reference = (x: tf.Tensor) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));

// 14 values: on wasm, three vectors of 4 through the fused SIMD kernels and 2 through their scalar tail.
for (const backend of ['cpu', 'wasm'] as const) {
  test(`gelu_new on ${backend}: value and gradient equal the taped tanh formula`, async () => {
    await useBackend(backend);
    assert.equal(tf.getKernel('LoraproGeluNewGrad', backend) !== undefined, backend === 'wasm', 'fused kernels on wasm only');
    const x = tf.tensor1d([-6, -3, -1.5, -0.7, -0.1, 0, 0.05, 0.5, 1, 2.5, 4, 8, -2, 3], 'float32');
    const dy = tf.randomUniform([14], -1, 1, 'float32', 3);
    const got = [geluNew(x), tf.grad(geluNew)(x, dy)];
    const want = [reference(x), tf.grad(reference)(x, dy)];
    for (const [i, what] of ['value', 'gradient'].entries()) {
      const g = await got[i].data();
      const w = await want[i].data();
      for (let k = 0; k < g.length; k++) assert.ok(Math.abs(g[k] - w[k]) <= 1e-6 * Math.max(1, Math.abs(w[k])), `${what} at x = ${(await x.data())[k]}: ${g[k]} vs ${w[k]}`);
    }
    tf.dispose([x, dy, ...got, ...want]);
  });
}

test('gelu_new gradients leave no tensor behind', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([4, 8], -3, 3, 'float32', 1);
  tf.dispose(tf.grad(geluNew)(x));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(geluNew(t)))(x)));
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
});

// LayerNorm as tf.moments and elementwise ops, differentiated op by op: an independent route.
const referenceLayerNorm = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), w), b);
};

for (const backend of ['cpu', 'wasm'] as const) {
  test(`layerNorm on ${backend}: value and gradients of x, weight and bias equal the taped formula`, async () => {
    await useBackend(backend);
    assert.equal(tf.getKernel('LoraproLayerNorm', backend) !== undefined, backend === 'wasm', 'fused kernels on wasm only');
    // On wasm, widths that are multiples of 4 take the fused SIMD kernels, [4, 6] the op-by-op route.
    for (const shape of [[5, 8], [2, 3, 8], [1, 12], [4, 6]]) {
      const width = shape[shape.length - 1];
      const x = tf.add(tf.mul(tf.randomUniform(shape, -1, 1, 'float32', 11), 3), 0.5);
      const w = tf.randomUniform([width], 0.5, 1.5, 'float32', 12);
      const b = tf.randomUniform([width], -0.5, 0.5, 'float32', 13);
      const dy = tf.randomUniform(shape, -1, 1, 'float32', 14);
      const got = [layerNorm(x, w, b, 1e-5), ...tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => layerNorm(p, q, r, 1e-5))([x, w, b], dy)];
      const want = [referenceLayerNorm(x, w, b), ...tf.grads(referenceLayerNorm)([x, w, b], dy)];
      for (const [i, what] of ['value', 'dx', 'dweight', 'dbias'].entries()) {
        assert.deepEqual(got[i].shape, want[i].shape, what);
        const g = await got[i].data();
        const e = await want[i].data();
        for (let k = 0; k < g.length; k++) assert.ok(Math.abs(g[k] - e[k]) <= 1e-5 * Math.max(1, Math.abs(e[k])), `[${shape}] ${what}[${k}]: ${g[k]} vs ${e[k]}`);
      }
      tf.dispose([x, w, b, dy, ...got, ...want]);
    }
  });
}

test('layerNorm and rmsNorm on wasm refuse a weight that does not match the last axis, naming both', async () => {
  await useBackend('wasm');
  const x = tf.zeros([2, 8], 'float32');
  const w = tf.ones([4], 'float32');
  const b = tf.zeros([8], 'float32');
  assert.throws(() => layerNorm(x, w, b, 1e-5), /weight must be float32 \[8\].*got float32 \[4\]/);
  assert.throws(() => rmsNorm(x, w, 1e-6), /weight must be float32 \[8\]/);
  tf.dispose([x, w, b]);
});

test('layerNorm gradients leave no tensor behind', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([3, 4, 8], -1, 1, 'float32', 1);
  const w = tf.ones([8], 'float32');
  const b = tf.zeros([8], 'float32');
  const step = () => tf.tidy(() => tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) => tf.sum(tf.square(layerNorm(p, q, r, 1e-5))))([x, w, b]));
  tf.dispose(step());
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(step());
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, w, b]);
});

// RMSNorm as Hugging Face's LlamaRMSNorm writes it, differentiated op by op.
const referenceRmsNorm = (x: tf.Tensor, w: tf.Tensor) => tf.mul(w, tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), 1e-6))));

for (const backend of ['cpu', 'wasm'] as const) {
  test(`rmsNorm on ${backend}: value and gradients of x and weight equal the taped formula`, async () => {
    await useBackend(backend);
    assert.equal(tf.getKernel('LoraproRmsNorm', backend) !== undefined, backend === 'wasm', 'fused kernels on wasm only');
    // On wasm, widths that are multiples of 4 take the fused SIMD kernels, [3, 6] the op-by-op route.
    for (const shape of [[2, 3, 8], [1, 12], [3, 6]]) {
      const width = shape[shape.length - 1];
      const x = tf.mul(tf.randomUniform(shape, -1, 1, 'float32', 21), 3);
      const w = tf.randomUniform([width], 0.5, 1.5, 'float32', 22);
      const dy = tf.randomUniform(shape, -1, 1, 'float32', 23);
      const got = [rmsNorm(x, w, 1e-6), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => rmsNorm(p, q, 1e-6))([x, w], dy)];
      const want = [referenceRmsNorm(x, w), ...tf.grads(referenceRmsNorm)([x, w], dy)];
      for (const [i, what] of ['value', 'dx', 'dweight'].entries()) {
        assert.deepEqual(got[i].shape, want[i].shape, what);
        const g = await got[i].data();
        const e = await want[i].data();
        for (let k = 0; k < g.length; k++) assert.ok(Math.abs(g[k] - e[k]) <= 1e-5 * Math.max(1, Math.abs(e[k])), `[${shape}] ${what}[${k}]: ${g[k]} vs ${e[k]}`);
      }
      tf.dispose([x, w, dy, ...got, ...want]);
    }
  });
}

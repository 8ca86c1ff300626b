import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

// Leading axes take the new path (SIMD where the kept width is a multiple of 4, else a JS loop); the
// rest (innermost, mixed, all, int32) the stock kernel.
const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
  { shape: [64, 8], axis: 0, keepDims: false }, // SIMD
  { shape: [7, 12], axis: 0, keepDims: false },
  { shape: [3, 5, 16], axis: [0, 1], keepDims: true },
  { shape: [1, 4], axis: 0, keepDims: false },
  { shape: [64, 5], axis: 0, keepDims: false }, // a bias gradient
  { shape: [7, 3], axis: 0, keepDims: false }, // rows not a multiple of the four summed per pass
  { shape: [4, 3, 5], axis: [0, 1], keepDims: false }, // a LayerNorm weight gradient
  { shape: [4, 3, 5], axis: [1, 0], keepDims: true },
  { shape: [4, 3, 5], axis: 0, keepDims: true },
  { shape: [4, 3, 5], axis: -1, keepDims: false },
  { shape: [4, 3, 5], axis: [0, 2], keepDims: false },
  { shape: [4, 3, 5], axis: [0, 1, 2], keepDims: false },
  { shape: [4, 3, 5], axis: 1, keepDims: true },
];

test('Sum on wasm equals cpu over leading, innermost, mixed and all axes', async () => {
  for (const [i, c] of cases.entries()) {
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const x = tf.randomUniform(c.shape, -1, 1, 'float32', 70 + i);
      return [tf.sum(x, c.axis, c.keepDims), tf.sum(tf.cast(tf.mul(x, 10), 'int32'), c.axis, c.keepDims)];
    });
    assertClose(wasm[0], cpu[0], `float32 sum of [${c.shape}] over ${c.axis}`, 1e-5);
    assertClose(wasm[1], cpu[1], `int32 sum of [${c.shape}] over ${c.axis}`, 0);
    assert.equal(wasm[1].dtype, 'int32');
  }
});

test('the gradient of a broadcast bias (a sum over rows) on wasm equals cpu', async () => {
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const x = tf.randomUniform([2, 7, 6], -1, 1, 'float32', 80);
    const dy = tf.randomUniform([2, 7, 6], -1, 1, 'float32', 81);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.add(a, b))([x, tf.zeros([6], 'float32')], dy);
  });
  assertClose(wasm[1], cpu[1], 'bias gradient', 1e-5);
});

test('Sum on wasm leaves no tensor or buffer behind', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([8, 3, 4], -1, 1, 'float32', 1);
  const before = liveCounts();
  for (let i = 0; i < 3; i++) tf.dispose([tf.sum(x, [0, 1]), tf.sum(x, -1), tf.sum(x, 0, true)]);
  assert.deepEqual(liveCounts(), before);
  x.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

test('Cast on wasm equals cpu between float32, int32 and bool (nonzero → true), and for an unchanged dtype', async () => {
  const values = [-2.7, -1, -0.5, 0, 0.25, 1, 3.9];
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const x = tf.tensor1d(values, 'float32');
    const i = tf.tensor1d([-3, 0, 7], 'int32');
    return [tf.cast(x, 'float32'), tf.cast(x, 'int32'), tf.cast(x, 'bool'), tf.cast(i, 'float32'), tf.cast(i, 'bool'), tf.cast(i, 'int32')];
  });
  for (let k = 0; k < cpu.length; k++) {
    assert.equal(wasm[k].dtype, cpu[k].dtype, `output ${k}: dtype`);
    assertClose(wasm[k], cpu[k], `output ${k}`, 0);
  }
});

test('a shared buffer outlives the tensor it came from, and the last owner frees it', async () => {
  await useBackend('wasm');
  const before = liveCounts();
  const x = tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'float32');
  const flat = tf.reshape(x, [4]);
  const copies = [tf.clone(x), tf.cast(x, 'float32'), tf.clone(flat)]; // Identity, Cast, Identity of a reshape
  tf.dispose([x, flat]);
  for (const c of copies) assert.deepEqual([...(await c.data())], [1, 2, 3, 4]);
  assert.deepEqual(copies[2].shape, [4]);
  tf.dispose(copies);
  assert.deepEqual(liveCounts(), before);
});

test('gradients through clones and same-dtype casts equal cpu and leak nothing on wasm', async () => {
  const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.cast(tf.clone(x), 'float32'), tf.square(x)));
  const { cpu, wasm } = await onCpuAndWasm(() => [tf.grad(f)(tf.randomUniform([3, 4], -1, 1, 'float32', 5))]);
  assertClose(wasm[0], cpu[0], 'd/dx sum(x·x²)');
  await useBackend('wasm');
  const x = tf.randomUniform([3, 4], -1, 1, 'float32', 5);
  tf.dispose(tf.grad(f)(x));
  const before = liveCounts();
  for (let i = 0; i < 3; i++) tf.dispose(tf.grad(f)(x));
  assert.deepEqual(liveCounts(), before);
  x.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { bandRows } from './transpose.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

test('bandRows: large matrices with a row count divisible by 64 or 32 take the banded path', () => {
  assert.equal(bandRows(2048, 512), 64);
  assert.equal(bandRows(96 * 32, 64), 64); // 3072 = 48 × 64: the taller band first
  assert.equal(bandRows(1056, 64), 32); // 1056 = 33 × 32
  assert.equal(bandRows(1000, 100), 0); // neither divides
  assert.equal(bandRows(128, 128), 64); // an attention matrix
  assert.equal(bandRows(64, 256), 32);
  assert.equal(bandRows(64, 64), 0); // small: the stock kernel
  assert.equal(bandRows(4096, 32), 0); // too narrow
});

test('Transpose on wasm equals cpu: banded matrices, batched, int32, and stock permutations', async () => {
  const shapes = [[2048, 64], [3, 256, 160], [2, 2, 192, 96], [1056, 64], [4, 128, 128], [2048, 24]];
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const outs: tf.Tensor[] = [];
    for (const [i, shape] of shapes.entries()) {
      const x = tf.randomUniform(shape, -1, 1, 'float32', 60 + i);
      const perm = [...shape.keys()];
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
      outs.push(tf.transpose(x, perm));
    }
    const m = tf.randomUniform([512, 96], -100, 100, 'int32', 70);
    outs.push(tf.transpose(m)); // int32, banded
    outs.push(tf.transpose(tf.randomUniform([64, 8, 96], -1, 1, 'float32', 71), [1, 0, 2])); // other perm: stock
    outs.push(tf.add(tf.transpose(tf.randomUniform([2048, 24], -1, 1, 'float32', 72)), 1)); // output used by another kernel
    return outs;
  });
  for (const [i, r] of wasm.entries()) assertClose(r, cpu[i], `transpose case ${i}`, 0);
  assert.equal(wasm[6].dtype, 'int32');
  assert.deepEqual(wasm[1].shape, [3, 160, 256]);
});

test('Transpose on wasm (banded) leaves no tensor or buffer behind, forward and through a gradient', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([1024, 64], -1, 1, 'float32', 3);
  const before = liveCounts();
  tf.transpose(x).dispose();
  tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.transpose(v), 2)))(x));
  assert.deepEqual(liveCounts(), before);
  x.dispose();
});

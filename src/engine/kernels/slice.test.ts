import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

// Contiguous and strided boxes of rank 1–5 (rank 5 has no special case in the stock kernel either).
const cases: { shape: number[]; begin: number[]; size: number[] }[] = [
  { shape: [7], begin: [2], size: [4] },
  { shape: [4, 5], begin: [1, 0], size: [2, 5] }, // whole rows: one contiguous run
  { shape: [4, 5], begin: [1, 2], size: [3, 2] },
  { shape: [3, 4, 6], begin: [0, 1, 3], size: [3, 2, 3] },
  { shape: [2, 3, 4, 5], begin: [1, 0, 2, 1], size: [1, 3, 2, 4] },
  { shape: [2, 2, 3, 2, 4], begin: [0, 1, 1, 0, 1], size: [2, 1, 2, 2, 3] },
  { shape: [3, 4], begin: [0, 0], size: [0, 4] }, // empty
];

test('Slice on wasm equals cpu for contiguous and strided boxes of rank 1-5, float32 and int32', async () => {
  for (const [i, c] of cases.entries()) {
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const x = tf.randomUniform(c.shape, -1, 1, 'float32', 40 + i);
      return [tf.slice(x, c.begin, c.size), tf.slice(tf.cast(tf.mul(x, 100), 'int32'), c.begin, c.size)];
    });
    assertClose(wasm[0], cpu[0], `float32 slice of [${c.shape}] at [${c.begin}] size [${c.size}]`, 0);
    assertClose(wasm[1], cpu[1], `int32 slice of [${c.shape}] at [${c.begin}] size [${c.size}]`, 0);
    assert.equal(wasm[1].dtype, 'int32');
  }
});

test('split on wasm equals cpu along every axis, in equal and given sizes, with gradients', async () => {
  for (const axis of [0, 1, 2]) {
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const x = tf.randomUniform([6, 6, 6], -1, 1, 'float32', 50 + axis);
      const parts = tf.split(x, [1, 2, 3], axis);
      const halves = tf.split(x, 2, axis);
      const w = tf.randomUniform(parts[2].shape, -1, 1, 'float32', 60);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.split(t, [1, 2, 3], axis)[2], w)))(x);
      return [...parts, ...halves, dx];
    });
    for (let k = 0; k < cpu.length; k++) assertClose(wasm[k], cpu[k], `axis ${axis}, output ${k}`, 0);
  }
});

test('slicing on wasm leaves no tensor or buffer behind', async () => {
  await useBackend('wasm');
  const x = tf.randomUniform([3, 4, 5], -1, 1, 'float32', 1);
  const before = liveCounts();
  for (let i = 0; i < 3; i++) tf.dispose([tf.slice(x, [1, 1, 1], [2, 2, 2]), ...tf.split(x, 5, 2)]);
  assert.deepEqual(liveCounts(), before);
  x.dispose();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

const ids = (values: number[]) => tf.tensor1d(values, 'int32');

test('UnsortedSegmentSum on wasm equals cpu for rank 1-3 float32 data', async () => {
  const cases: { shape: number[]; segmentIds: number[]; numSegments: number }[] = [
    { shape: [6], segmentIds: [2, 0, 2, 2, 1, 0], numSegments: 4 }, // segment 3 stays empty
    { shape: [5, 3], segmentIds: [1, 1, 0, 1, 4], numSegments: 5 },
    { shape: [4, 2, 3], segmentIds: [0, 3, 0, 0], numSegments: 4 },
    { shape: [3, 2], segmentIds: [-1, 1, 7], numSegments: 3 }, // ids out of range are dropped, as in TF
  ];
  for (const [i, c] of cases.entries()) {
    const { cpu, wasm } = await onCpuAndWasm(() => [
      tf.unsortedSegmentSum(tf.randomUniform(c.shape, -1, 1, 'float32', 10 + i), ids(c.segmentIds), c.numSegments),
    ]);
    assertClose(wasm[0], cpu[0], `data [${c.shape}]`);
  }
});

test('UnsortedSegmentSum on wasm sums int32 data exactly and keeps the dtype', async () => {
  const { cpu, wasm } = await onCpuAndWasm(() => [
    tf.unsortedSegmentSum(tf.tensor2d([[1, 2], [30, 40], [500, 600]], [3, 2], 'int32'), ids([1, 0, 1]), 2),
  ]);
  assert.equal(wasm[0].dtype, 'int32');
  assert.deepEqual([...wasm[0].values], [...cpu[0].values]); // cpu answers in float32; the numbers must agree
  assert.deepEqual([...wasm[0].values], [30, 40, 501, 602]); // rows 0 and 2 into segment 1
});

// The gradient of gather is UnsortedSegmentSum of dy over the indices (tfjs-core's GatherV2 gradient).
test('gather gradient on wasm equals cpu for repeated ids and 2-D/3-D indices', async () => {
  const cases: { indices: number[]; shape: number[]; axis: number }[] = [
    { indices: [0, 2, 0, 9, 2, 2, 5, 0], shape: [2, 4], axis: 0 },
    { indices: [3, 3, 1, 0, 3, 8, 8, 8, 1, 0, 6, 3], shape: [2, 3, 2], axis: 0 },
    { indices: [1, 4, 1], shape: [3], axis: 1 }, // gathers columns: the gradient transposes around the sum
  ];
  for (const [i, c] of cases.entries()) {
    const { cpu, wasm } = await onCpuAndWasm(() => {
      const table = tf.randomUniform([10, 6], -1, 1, 'float32', 20 + i); // [vocab, d]
      const index = tf.tensor(c.indices, c.shape, 'int32');
      const outShape = c.axis === 0 ? [...c.shape, 6] : [10, ...c.shape];
      const dy = tf.randomUniform(outShape, -1, 1, 'float32', 30 + i);
      return tf.grads((w: tf.Tensor) => tf.gather(w, index, c.axis))([table], dy);
    });
    assertClose(wasm[0], cpu[0], `gather grad, indices [${c.shape}] axis ${c.axis}`);
  }
});

test('embedding gradients on wasm leave no tensor or buffer behind', async () => {
  await useBackend('wasm');
  const table = tf.randomUniform([50, 8], -1, 1, 'float32', 1);
  const index = tf.tensor2d([[1, 2, 1], [49, 0, 1]], [2, 3], 'int32');
  const step = () => tf.tidy(() => tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.gather(w, index))))(table));
  tf.dispose(step()); // first call may cache per-kernel state
  const before = liveCounts();
  for (let i = 0; i < 5; i++) tf.dispose(step());
  assert.deepEqual(liveCounts(), before);
  tf.dispose([table, index]);
});

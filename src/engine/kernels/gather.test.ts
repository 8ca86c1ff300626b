import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { assertClose, liveCounts, onCpuAndWasm } from './test-utils.js';

// (Not batch dims: the stock wasm kernel returns wrong values for them, seen while writing this test.)
test('GatherV2 on wasm equals cpu: embedding rows, repeated ids, int32 tables, other axes', async () => {
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const table = tf.randomUniform([11, 6], -1, 1, 'float32', 90);
    const ids = tf.tensor2d([[0, 10, 3], [3, 3, 7]], [2, 3], 'int32');
    const cube = tf.randomUniform([4, 3, 5], -1, 1, 'float32', 91);
    return [
      tf.gather(table, ids), // [2, 3, 6]: the fast path
      tf.gather(tf.cast(tf.mul(table, 100), 'int32'), ids), // int32 rows
      tf.gather(cube, tf.tensor1d([2, 0], 'int32')), // rows of a rank-3 table
      tf.gather(cube, tf.tensor1d([4, 1], 'int32'), 2), // another axis: stock kernel
      tf.gather(cube, tf.tensor2d([[1, 0], [2, 2]], [2, 2], 'int32'), 1), // axis 1, 2-D ids: stock kernel
      tf.gather(table, tf.tensor1d([], 'int32')), // no ids
    ];
  });
  for (const [i, r] of wasm.entries()) assertClose(r, cpu[i], `gather case ${i}`, 0);
  assert.equal(wasm[1].dtype, 'int32');
  assert.deepEqual(wasm[5].shape, [0, 6]);
});

test('GatherV2 on wasm: the gradient of an embedding lookup equals cpu; a bad id names itself and leaks nothing', async () => {
  const { cpu, wasm } = await onCpuAndWasm(() => {
    const table = tf.randomUniform([9, 4], -1, 1, 'float32', 92);
    const dy = tf.randomUniform([5, 4], -1, 1, 'float32', 93);
    const ids = tf.tensor1d([8, 1, 1, 0, 8], 'int32');
    return [tf.grad((t: tf.Tensor) => tf.gather(t, ids))(table, dy)];
  });
  assertClose(wasm[0], cpu[0], 'embedding gradient', 1e-6);
  await useBackend('wasm');
  const table = tf.zeros([3, 2]);
  const ids = tf.tensor1d([0, 3], 'int32');
  const before = liveCounts();
  assert.throws(() => tf.gather(table, ids), /index value 3 is not in \[0, 2\]/);
  assert.deepEqual(liveCounts(), before);
  tf.dispose([table, ids]);
});

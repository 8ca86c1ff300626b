import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf.js';
import { useBackend } from '../backend.js';
import { registerWasmKernels, restoreStockWasmKernels } from './register.js';

const installed = () => ({
  batchMatMul: tf.getKernel('BatchMatMul', 'wasm'),
  segmentSum: tf.getKernel('UnsortedSegmentSum', 'wasm'),
});

test('importing tf registers the wasm kernels, and registering again changes nothing', () => {
  const first = installed();
  assert.ok(first.segmentSum, 'UnsortedSegmentSum is registered for wasm');
  registerWasmKernels();
  registerWasmKernels();
  assert.deepEqual(installed(), first);
});

test('the stock kernels can be put back and replaced again on a running backend', async () => {
  await useBackend('wasm');
  const ours = installed();
  restoreStockWasmKernels();
  try {
    assert.equal(installed().segmentSum, undefined); // the stock wasm backend has none
    assert.notEqual(installed().batchMatMul, ours.batchMatMul);
    // The stock kernel must have been set up although the backend started while ours was registered.
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    assert.deepEqual(await y.data(), new Float32Array([11]));
  } finally {
    registerWasmKernels();
  }
  assert.deepEqual(installed(), ours);
});

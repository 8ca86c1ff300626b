// The wasm heap's guard (heap.ts): an allocation past wasm32's 4 GiB throws a clear RangeError that
// isHeapExhausted recognises (emscripten's malloc returns 0 there, and tfjs-backend-wasm 4.22 would
// use offset 0), and the heap keeps working after it; the meter counts what the backend allocates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { asWasmBackend } from './kernels/wasm-backend.js';
import { isHeapExhausted, meterWasmHeap } from './heap.js';

test('an allocation the wasm heap cannot hold throws a recognisable error, and the heap works on', async () => {
  await useBackend('wasm');
  try {
    const wasm = asWasmBackend(tf.backend()).wasm as unknown as { _malloc(n: number): number; _free(p: number): void };
    const held = wasm._malloc(2.5e9) >>> 0; // grows the heap (address space; untouched pages cost no RSS)
    assert.notEqual(held, 0);
    try {
      assert.throws(
        () => tf.zeros([5e8]), // 2 GB more: past 4 GiB
        (e: unknown) => isHeapExhausted(e) && /the wasm heap cannot allocate 2000000000 more bytes/.test((e as Error).message),
      );
    } finally {
      wasm._free(held);
    }
    const x = tf.add(tf.ones([3]), 1);
    assert.deepEqual([...(await x.data())], [2, 2, 2]);
    x.dispose();
  } finally {
    await useBackend();
  }
});

test('the meter counts the bytes the backend holds at its peak', async () => {
  await useBackend('wasm');
  try {
    const meter = meterWasmHeap();
    const a = tf.zeros([1000]); // 4,000 bytes
    const b = tf.zeros([500]); // 2,000 bytes
    a.dispose();
    b.dispose();
    assert.equal(meter.peak(), 6000);
    assert.equal(meter.live(), 0);
    meter.stop();
  } finally {
    await useBackend();
  }
});

test('errors that are not the heap running out are not taken for it', () => {
  assert.equal(isHeapExhausted(new Error('config.json: unexpected token')), false);
  assert.equal(isHeapExhausted(new Error('Aborted(). Build with -sASSERTIONS for more info.')), true);
  assert.equal(isHeapExhausted(new RangeError('Invalid typed array length: 1073741824')), true);
});

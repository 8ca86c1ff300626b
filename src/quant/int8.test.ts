import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantizeInt8, int8Bytes, quantizeInt8, roundHalfEven } from './int8.js';

test('roundHalfEven: halves go to the even neighbour, others to the nearest', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfEven), [0, 2, 2, 4, -0, -2, -2, 2, 3, -3]);
});

test('int8: one scale per row, absmax/127, values rounded half to even; an all-zero row stays zero', () => {
  // row 0: absmax 127 → scale 1; 2.5 → 2, 3.5 → 4, −2.5 → −2, −127 → −127
  // row 1: all zero → scale 0 → zeros
  // row 2: absmax 254 → scale 2; 5 / 2 = 2.5 → 2 → 4; 7 / 2 = 3.5 → 4 → 8; 1 / 2 = 0.5 → 0
  const x = new Float32Array([127, 2.5, 3.5, -2.5, -127, 0, 0, 0, 0, 0, 254, 5, 7, 1, -254]);
  const q = quantizeInt8(x, 3, 5);
  assert.deepEqual([...q.scales], [1, 0, 2]);
  assert.deepEqual([...q.values], [127, 2, 4, -2, -127, 0, 0, 0, 0, 0, 127, 2, 4, 0, -127]);
  assert.deepEqual([...dequantizeInt8(q)], [127, 2, 4, -2, -127, 0, 0, 0, 0, 0, 254, 4, 8, 0, -254]);
  assert.equal(int8Bytes(3, 5), 15 + 12);
});

test('int8: a scale that is not exact rounds x/scale in float32 and clamps to ±127', () => {
  const x = new Float32Array([1, 0.5, -1]);
  const q = quantizeInt8(x, 1, 3);
  assert.equal(q.scales[0], Math.fround(1 / 127));
  assert.deepEqual([...q.values], [127, Math.round(Math.fround(0.5 / Math.fround(1 / 127))), -127]);
});

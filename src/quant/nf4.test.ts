import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS } from './formats.js';
import { NF4_LEVELS, NF4_THRESHOLDS, dequantizeNf4, nf4Bytes, nf4Code, quantizeNf4 } from './nf4.js';

const f = Math.fround;

test('NF4: a 64-value block with absmax 2 quantizes to the codes derived by hand, first value in the high nibble', () => {
  // absmax = 2, so each value is scaled by 1/2 before the nearest level is picked:
  //   2.0 → 1.0 → code 15 (level 1.0)            −2.0 → −1.0 → code 0 (level −1.0)
  //   0.0 → 0.0 → code 7 (level 0)                0.1 → 0.05 > 0.0398 (midpoint of 0 and 0.0796) → code 8
  //   0.07 → 0.035 < 0.0398 → code 7              0.5 → 0.25: between 0.2461 (10) and 0.3379 (11), below
  //   their midpoint 0.2920 → code 10, dequantized 0.24611230194568634·2
  const x = new Float32Array(64).fill(0.5);
  x.set([2, -2, 0, 0.1, 0.07]);
  const q = quantizeNf4(x, 1, 64);
  assert.deepEqual([...q.absmax], [2]);
  assert.equal(q.codes.length, 32);
  assert.equal(q.codes[0], (15 << 4) | 0);
  assert.equal(q.codes[1], (7 << 4) | 8);
  assert.equal(q.codes[2], (7 << 4) | 10);
  assert.equal(q.codes[31], (10 << 4) | 10);
  const y = dequantizeNf4(q);
  assert.deepEqual([...y.subarray(0, 6)], [2, -2, 0, f(f(0.07958029955625534) * 2), 0, f(f(0.24611230194568634) * 2)]);
});

test('NF4: a value exactly on a threshold takes the lower code; one ulp above takes the upper', () => {
  const t = NF4_THRESHOLDS[7]; // between code 7 (0) and code 8 (0.0796)
  const above = new Float32Array([t]);
  new Uint32Array(above.buffer)[0] += 1;
  const x = new Float32Array([1, t, above[0], -1]); // absmax 1: values are their own scaled values
  const y = dequantizeNf4(quantizeNf4(x, 2, 2));
  assert.deepEqual([...y], [1, 0, NF4_LEVELS[8], -1]);
  assert.ok(Math.abs(t - (0 + 0.07958029955625534) / 2) < 1e-8);
});

test('NF4: an all-zero block dequantizes to zeros; a partial last block keeps its own absmax', () => {
  // 70 values: block 0 (64 zeros) has absmax 0; block 1 holds 6 values, absmax 3.
  const x = new Float32Array(70);
  x.set([3, -3, 1.5, 0, -0.3, 3], 64);
  const q = quantizeNf4(x, 7, 10);
  assert.deepEqual([...q.absmax], [0, 3]);
  assert.equal(q.codes.length, 35);
  const y = dequantizeNf4(q);
  assert.ok(y.subarray(0, 64).every((v) => v === 0));
  // 1.5 / 3 = 0.5: between 0.4407 (12) and 0.5626 (13), midpoint 0.5017 → code 12; −0.3/3 = −0.1: nearest −0.0911 (6)
  assert.deepEqual([...y.subarray(64)], [3, -3, f(f(0.44070982933044434) * 3), 0, f(f(-0.09105003625154495) * 3), 3]);
  assert.equal(nf4Bytes(7, 10), 35 + 8);
  assert.equal(FORMATS.nf4.bytes(7, 10), 43);
});

test('nf4Code is the count of thresholds a value passes, at, around and between every threshold', () => {
  const count = (x: number) => NF4_THRESHOLDS.filter((t) => x > t).length;
  for (const t of NF4_THRESHOLDS) {
    const up = new Float32Array([t]);
    new Uint32Array(up.buffer)[0] += t > 0 ? 1 : -1; // one ulp larger in magnitude
    for (const x of [t, up[0], -2, 2, 0, t / 2]) assert.equal(nf4Code(x), count(x), `x = ${x}`);
  }
});

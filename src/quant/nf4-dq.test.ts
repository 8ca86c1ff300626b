import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORMATS } from './formats.js';
import { DYNAMIC_MAP } from './dynamic-map.js';
import { dequantizeNf4, nf4Bytes, quantizeNf4 } from './nf4.js';
import { dequantizeNf4Double, nf4DqAbsmax, nf4DqBytes, nf4DqFromStorage, nf4DqStorage, quantizeNf4Double } from './nf4-dq.js';

const f = Math.fround;
const NF4_MINUS_HALF = -0.5250730514526367; // NF4 code 2: −0.5 lies below the midpoint −0.4600 of codes 2 and 3

test('NF4-DQ: three blocks with absmax 1, 2, 3 by hand: offset 2, absmax codes 0, 127, 255, block scales c0 + 2, 2, 3', () => {
  // Block b (64 values) holds b + 1, −(b + 1)/2, then zeros. absmax = [1, 2, 3], offset = mean = 2,
  // absmax − offset = [−1, 0, 1]: one block of 256 with absmax2 = 1, scaled values −1, 0, 1 → dynamic
  // codes 0 (the map's lowest, −(1 − 0.9/128), since it has no −1), 127 (0), 255 (1). Recovered
  // scales: c0·1 + 2 ≈ 1.00703, 0·1 + 2 = 2, 1·1 + 2 = 3.
  const x = new Float32Array(3 * 64);
  for (let b = 0; b < 3; b++) x.set([b + 1, -(b + 1) / 2], 64 * b);
  const q = quantizeNf4Double(x, 3, 64);
  assert.equal(q.offset, 2);
  assert.deepEqual([...q.absmax2], [1]);
  assert.deepEqual([...q.absmaxCodes], [0, 127, 255]);
  assert.deepEqual(q.codes, quantizeNf4(x, 3, 64).codes, 'the 4-bit codes are NF4 unchanged');
  const s0 = f(DYNAMIC_MAP[0] + 2);
  assert.ok(Math.abs(s0 - (2 - (1 - 0.9 / 128))) < 1e-6);
  assert.deepEqual([...nf4DqAbsmax(q)], [s0, 2, 3]);
  const y = dequantizeNf4Double(q);
  // level 1 (code 15) and level −0.5251 (code 2) times each block's recovered scale; zeros stay 0
  assert.deepEqual([...y.subarray(0, 3)], [s0, f(NF4_MINUS_HALF * s0), 0]);
  assert.deepEqual([...y.subarray(64, 67)], [2, f(NF4_MINUS_HALF * 2), 0]);
  assert.deepEqual([...y.subarray(128, 131)], [3, f(NF4_MINUS_HALF * 3), 0]);
});

test('NF4-DQ: a weight of one block has absmax − offset = 0, absmax2 0, and dequantizes exactly as NF4', () => {
  // n = 10 < 64: offset = absmax, the centred value 0, absmax2 = 0; its code (0·(1/0) = NaN → code 0,
  // as the CUDA kernel gives) times 0 adds nothing to the offset.
  const x = new Float32Array([0.3, -1.7, 0.02, 0.9, -0.4, 1.1, 0, -0.05, 0.6, 1.3]);
  const q = quantizeNf4Double(x, 2, 5);
  assert.equal(q.offset, f(1.7));
  assert.deepEqual([...q.absmax2], [0]);
  assert.deepEqual([...q.absmaxCodes], [0]);
  assert.deepEqual([...dequantizeNf4Double(q)], [...dequantizeNf4(quantizeNf4(x, 2, 5))]);
});

test('NF4-DQ: 257 blocks make two blocks of absmax, the second holding one; each recovers its scale as the formula says', () => {
  // absmax 1 for blocks 0–255, 3 for block 256: offset = 259/257 (float32). Group 0: every centred
  // value is 1 − offset < 0, absmax2[0] = offset − 1, scaled −1 → code 0. Group 1: 3 − offset alone,
  // absmax2[1] = 3 − offset, scaled 1 → code 255.
  const x = new Float32Array(257 * 64);
  for (let b = 0; b < 257; b++) x[64 * b] = b === 256 ? 3 : 1;
  const q = quantizeNf4Double(x, 257, 64);
  const off = f(259 / 257);
  assert.equal(q.offset, off);
  assert.deepEqual([...q.absmax2], [f(off - 1), f(3 - off)]);
  assert.ok(q.absmaxCodes.subarray(0, 256).every((c) => c === 0));
  assert.equal(q.absmaxCodes[256], 255);
  const scales = nf4DqAbsmax(q);
  assert.equal(scales[0], f(f(DYNAMIC_MAP[0] * f(off - 1)) + off));
  assert.equal(scales[256], f(f(3 - off) + off));
  assert.ok(Math.abs(scales[0] - 1) < 1e-4, 'group 0 lands within 0.9/128 of the offset gap');
});

test('NF4-DQ bytes: codes, a byte per block, a float32 per 256 blocks and the offset, fewer than NF4', () => {
  assert.equal(nf4DqBytes(257, 64), (257 * 64) / 2 + 257 + 4 * 2 + 4);
  assert.equal(nf4DqBytes(7, 10), 35 + 2 + 4 + 4); // 70 values: 2 blocks, 1 absmax2
  assert.equal(FORMATS['nf4-dq'].bytes(257, 64), nf4DqBytes(257, 64));
  assert.ok(nf4DqBytes(257, 64) < nf4Bytes(257, 64));
  assert.equal(FORMATS['nf4-dq'].bytesPerValue, 0.5 + 1 / 64 + 4 / (64 * 256));
  const q = quantizeNf4Double(new Float32Array(70).map((_, i) => Math.sin(i)), 7, 10);
  const stored = nf4DqStorage(q);
  assert.equal(stored.bytes.byteLength + stored.scales.byteLength, nf4DqBytes(7, 10));
  assert.deepEqual(nf4DqFromStorage(7, 10, stored.bytes, stored.scales), q);
  assert.throws(() => nf4DqFromStorage(7, 11, stored.bytes, stored.scales), /nf4-dq \[7, 11\]: 37 bytes and 2 scales, expected 41 and 2/);
});

// ggml's q8_0 and q4_0 against blocks worked out by hand from ggml-quants.c's reference routines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fp16ToFp32, fp32ToBf16, fp32ToFp16 } from './ggml-half.js';
import { dequantizeRowQ4_0, quantizeRowQ4_0 } from './ggml-q4_0.js';
import { dequantizeRowQ8_0, quantizeRowQ8_0 } from './ggml-q8_0.js';
import { GGML_TYPES, ggmlBytes, rowFits } from './ggml-type-traits.js';

test('halves: nearest even, with the bit patterns of IEEE binary16', () => {
  assert.equal(fp32ToFp16(1), 0x3c00);
  assert.equal(fp32ToFp16(-2), 0xc000);
  assert.equal(fp32ToFp16(1 + 2 ** -11), 0x3c00); // a tie: to the even 1.0
  assert.equal(fp32ToFp16(1 + 3 * 2 ** -11), 0x3c02); // a tie: to the even 1 + 2^-9
  assert.equal(fp32ToFp16(65520), 0x7c00); // past the largest half: infinity
  assert.equal(fp16ToFp32(0x0001), 2 ** -24); // the smallest subnormal
  assert.equal(fp32ToBf16(1 + 2 ** -8), 0x3f80); // a tie: to the even 1.0
});

test('q8_0: a block whose max|x| is 127 has d = 1 and q = roundf(x), halves away from zero', () => {
  const x = new Float32Array(32);
  x.set([127, -0.5, 0.5, 2.5, -2.5, 1.49, -126.6]);
  const b = quantizeRowQ8_0(x);
  assert.equal(b.length, 34);
  assert.deepEqual([b[0], b[1]], [0x00, 0x3c]); // d = 1.0 as a little-endian half
  const q = new Int8Array(b.buffer, 2, 32);
  assert.deepEqual([...q.slice(0, 8)], [127, -1, 1, 3, -3, 1, -127, 0]);
  assert.deepEqual([...dequantizeRowQ8_0(b, 32).slice(0, 4)], [127, -1, 1, 3]);
});

test('q8_0: d = max|x| / 127 in float32 stored as a half, 1/d from the float32 d; a zero block is all zeros', () => {
  // max|x| = 1: d = fround(1/127) = 0.007874015718698502, stored as half 0x2008 (0.00787353515625);
  // id = fround(1/d) = 127 exactly, so q = roundf(x·127): 0.5 → 63.5 → 64, -0.25 → -31.75 → -32.
  const x = new Float32Array(64);
  x.set([1, 0.5, -0.25]);
  const b = quantizeRowQ8_0(x);
  assert.equal(b[0] | (b[1] << 8), 0x2008);
  assert.deepEqual([...new Int8Array(b.buffer, 2, 3)], [127, 64, -32]);
  assert.deepEqual([...b.slice(34)], new Array(34).fill(0)); // second block: d = 0, id = 0
  const y = dequantizeRowQ8_0(b, 64);
  assert.equal(y[0], 127 * 0.00787353515625);
  assert.throws(() => quantizeRowQ8_0(new Float32Array(33)), /not a whole number of 32-value blocks/);
});

test('q4_0: d = max / -8 with the sign of the largest magnitude, q = min(15, trunc(x/d + 8.5)), nibbles j | j+16', () => {
  // max = -8 (first of largest |x|): d = 1, id = 1. x = -8 → 0; 7 → 15; 7.6 → 16.1 → 15; 0.4 → 8.9 → 8;
  // -0.6 → 7.9 → 7; 0 → 8.5 → 8.
  const x = new Float32Array(32).fill(0);
  x.set([-8, 7, 7.6, 0.4, -0.6]);
  x[16] = 8; // same magnitude later: not the max (strict <)
  x[17] = -3; // -3 + 8.5 = 5.5 → 5
  const b = quantizeRowQ4_0(x);
  assert.equal(b.length, 18);
  assert.deepEqual([b[0], b[1]], [0x00, 0x3c]); // d = 1.0
  // byte j = q[j] | q[j+16] << 4: q[16] = min(15, trunc(16.5)) = 15, q[17] = 5, the rest 8.
  assert.deepEqual([...b.slice(2, 8)], [0 | (15 << 4), 15 | (5 << 4), 15 | (8 << 4), 8 | (8 << 4), 7 | (8 << 4), 8 | (8 << 4)]);
  const y = dequantizeRowQ4_0(b, 32);
  assert.deepEqual([...y.slice(0, 5)], [-8, 7, 7, 0, -1]);
  assert.deepEqual([y[16], y[17]], [7, -3]);
});

test('q4_0: a positive max flips the scale (d = -1): x = 8 → 0, -7 → 15', () => {
  const x = new Float32Array(32);
  x.set([8, -7, 1]);
  const b = quantizeRowQ4_0(x);
  assert.deepEqual([b[0], b[1]], [0x00, 0xbc]); // d = -1.0
  assert.deepEqual([b[2] & 15, b[3] & 15, b[4] & 15], [0, 15, 7]); // 1·-1 + 8.5 = 7.5 → 7
  assert.deepEqual([...dequantizeRowQ4_0(b, 32).slice(0, 3)], [8, -7, 1]);
});

test('type traits: ids and sizes of ggml.c, rows of whole blocks, round trips within half a step (q4_0: one step at the clipped end, +8·d)', () => {
  assert.deepEqual(Object.fromEntries(Object.entries(GGML_TYPES).map(([k, t]) => [k, [t.id, t.blockSize, t.typeSize]])), {
    F32: [0, 1, 4], F16: [1, 1, 2], Q4_0: [2, 32, 18], Q8_0: [8, 32, 34], BF16: [30, 1, 2],
  });
  assert.equal(ggmlBytes('Q8_0', 128), 136);
  assert.equal(rowFits('Q4_0', 344), false);
  const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.3) * (i + 1));
  for (const [name, t] of Object.entries(GGML_TYPES)) {
    const y = t.dequantize(t.quantize(x), 64);
    for (let b = 0; b < 2; b++) {
      const block = x.slice(32 * b, 32 * b + 32);
      const amax = Math.max(...block.map(Math.abs));
      const step = name === 'Q4_0' ? amax / 4 : name === 'Q8_0' ? amax / 127 : name === 'F32' ? 0 : amax * 2 ** -8;
      for (let j = 0; j < 32; j++) assert.ok(Math.abs(y[32 * b + j] - block[j]) <= step / 2 + amax * 1e-3 + 1e-12, `${name} ${32 * b + j}`);
    }
  }
});

test('q8_0 and q4_0 bytes equal gguf-py quants.py (the numpy port of the C reference) on two mixed blocks', () => {
  // x: block 0 = 3.3·sin(0.7·i), block 1 = (i − 15.5)/7 with x[3] = −2.5 and x[4] = 2.5 (i = 0..31), float32.
  // Expected bytes: gguf-py's quants.quantize(x, Q8_0 / Q4_0) from the llama.cpp source node-llama-cpp 3.21.1 bundles.
  const x = new Float32Array(64);
  for (let i = 0; i < 32; i++) {
    x[i] = Math.fround(Math.fround(Math.sin(Math.fround(i * Math.fround(0.7)))) * Math.fround(3.3)); // numpy: float32 throughout
    x[32 + i] = Math.fround((i - 15.5) / 7);
  }
  x[35] = -2.5;
  x[36] = 2.5;
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  assert.equal(hex(quantizeRowQ8_0(x)), '9b2600527e6e2bd39182af02547e6d29d18f83b104567f6c27cf8e83b306577f6b250a2590979e817fb4bbc2cad1d8dfe7eef5fc040b121921282f363e454c535b626970');
  assert.equal(hex(quantizeRowQ4_0(x)), '8db6f8d38031051b6fbffdf8d38031051b6f0035819192a0afb3b4b4c5c5d5d6e6e7f7f8');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bf16FromFloat32Bits,
  bf16ToFloat32,
  f16FromFloat32Bits,
  f16ToFloat32,
  float32Bits,
  float32BitsRoundToOdd,
} from './float16.js';

const f16 = (x: number): number => f16FromFloat32Bits(float32Bits(x));
const f16Exact = (x: number): number => f16FromFloat32Bits(float32BitsRoundToOdd(x));
const bf16 = (x: number): number => bf16FromFloat32Bits(float32Bits(x));
const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

// F16 = 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits; patterns derived by hand:
//   1.0      = +1.0·2^0            → 0 01111 0000000000 = 0x3C00
//   -2.5     = -1.25·2^1           → 1 10000 0100000000 = 0xC100
//   65504    = (2-2^-10)·2^15      → 0 11110 1111111111 = 0x7BFF (largest finite)
//   65520    = halfway 65504↔65536 → ties to even 0x7C00 (the even neighbour is +Inf)
//   2^-14    smallest normal       → 0 00001 0000000000 = 0x0400
//   2^-24    smallest subnormal    → 0x0001; 1023·2^-24 largest subnormal → 0x03FF
//   2^-25    halfway 0↔2^-24       → ties to even 0x0000; 0.75·2^-24 → 0x0001; 1.5·2^-24 → 0x0002
//   1+2^-11  halfway 0x3C00↔0x3C01 → 0x3C00; 1+3·2^-11 halfway 0x3C01↔0x3C02 → 0x3C02
const F16_CASES: [number, number][] = [
  [1, 0x3c00],
  [-2.5, 0xc100],
  [65504, 0x7bff],
  [65519, 0x7bff],
  [65520, 0x7c00],
  [1e6, 0x7c00],
  [2 ** -14, 0x0400],
  [2 ** -24, 0x0001],
  [1023 * 2 ** -24, 0x03ff],
  [2 ** -25, 0x0000],
  [0.75 * 2 ** -24, 0x0001],
  [1.5 * 2 ** -24, 0x0002],
  [1e-10, 0x0000],
  [1 + 2 ** -11, 0x3c00],
  [1 + 3 * 2 ** -11, 0x3c02],
  [0, 0x0000],
  [-0, 0x8000],
  [Infinity, 0x7c00],
  [-Infinity, 0xfc00],
  [NaN, 0x7e00],
];

test('float32 → F16 rounds to nearest even, with subnormals, overflow to Inf and quiet NaN', () => {
  for (const [x, bits] of F16_CASES) assert.equal(hex(f16(x)), hex(bits), `F16(${x})`);
});

// BF16 is the top half of float32: 1 sign, 8 exponent (bias 127), 7 mantissa bits.
//   1.0 = 0x3F80_0000 → 0x3F80; -2.5 = 0xC020_0000 → 0xC020; +Inf → 0x7F80; NaN → 0x7FC0
//   1+2^-8 is halfway 0x3F80↔0x3F81 → 0x3F80; 1+3·2^-8 halfway 0x3F81↔0x3F82 → 0x3F82
//   largest BF16 (2-2^-7)·2^127 → 0x7F7F; largest float32 lies past the halfway point → +Inf
//   2^-133 (a float32 subnormal, bits 0x0001_0000) → 0x0001
const BF16_CASES: [number, number][] = [
  [1, 0x3f80],
  [-2.5, 0xc020],
  [1 + 2 ** -8, 0x3f80],
  [1 + 3 * 2 ** -8, 0x3f82],
  [1 + 2 ** -8 + 2 ** -20, 0x3f81],
  [(2 - 2 ** -7) * 2 ** 127, 0x7f7f],
  [(2 - 2 ** -23) * 2 ** 127, 0x7f80],
  [2 ** -133, 0x0001],
  [-0, 0x8000],
  [Infinity, 0x7f80],
  [-Infinity, 0xff80],
  [NaN, 0x7fc0],
];

test('float32 → BF16 rounds to nearest even and keeps NaN a NaN', () => {
  for (const [x, bits] of BF16_CASES) assert.equal(hex(bf16(x)), hex(bits), `BF16(${x})`);
  // A NaN whose payload sits only in the low 16 bits must not become Inf.
  assert.equal(hex(bf16FromFloat32Bits(0x7f800001)), hex(0x7fc0));
});

test('doubles narrow to F16/BF16 with one rounding, not two through float32', () => {
  // 1 + 2^-11 + 2^-40 lies just above the F16 halfway point: the right answer is 0x3C01. Through
  // float32 the 2^-40 is lost, leaving an exact tie that rounds down to 0x3C00.
  const x = 1 + 2 ** -11 + 2 ** -40;
  assert.equal(hex(f16(x)), hex(0x3c00)); // the naive route, for contrast
  assert.equal(hex(f16Exact(x)), hex(0x3c01));
  assert.equal(hex(bf16FromFloat32Bits(float32BitsRoundToOdd(1 + 2 ** -8 + 2 ** -40))), hex(0x3f81));
  assert.equal(hex(f16Exact(-(1 + 2 ** -11 + 2 ** -40))), hex(0xbc01));
  // Values already exact in float32 are unchanged by rounding to odd.
  for (const [v, bits] of F16_CASES) assert.equal(hex(f16Exact(v)), hex(bits), `F16 exact (${v})`);
  assert.equal(hex(f16Exact(3.5e38)), hex(0x7c00)); // beyond float32 range, still +Inf
});

test('F16 and BF16 widen to float32 exactly', () => {
  assert.equal(f16ToFloat32(0x3c00), 1);
  assert.equal(f16ToFloat32(0xc100), -2.5);
  assert.equal(f16ToFloat32(0x7bff), 65504);
  assert.equal(f16ToFloat32(0x0001), 2 ** -24);
  assert.equal(f16ToFloat32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16ToFloat32(0x0400), 2 ** -14);
  assert.equal(f16ToFloat32(0x7c00), Infinity);
  assert.equal(f16ToFloat32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16ToFloat32(0x7e00)));
  assert.ok(Object.is(f16ToFloat32(0x8000), -0));
  assert.equal(bf16ToFloat32(0x3f80), 1);
  assert.equal(bf16ToFloat32(0xc020), -2.5);
  assert.equal(bf16ToFloat32(0x7f80), Infinity);
  assert.ok(Number.isNaN(bf16ToFloat32(0x7fc0)));
  // Every finite F16 survives F16 → float32 → F16.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    if (f16(f16ToFloat32(h)) !== h) assert.fail(`F16 ${hex(h)} did not round-trip`);
  }
});

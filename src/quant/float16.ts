// One home for the 16-bit float conversions: the safetensors reader and writer (io/), the frozen tier
// and ggml's block scales (quant/) all use these.
// Bit-level conversions between float32 and the 16-bit float formats (IEEE binary16 "F16" and
// bfloat16 "BF16"). Narrowing rounds to nearest, ties to even, like PyTorch's `.half()`/`.bfloat16()`;
// NaN stays NaN (made quiet), overflow goes to ±Infinity, tiny values to F16 subnormals or ±0.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE float32 bit pattern of `x` (rounded to float32, nearest-even). */
export function float32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function float32FromBits(bits: number): number {
  u32[0] = bits;
  return f32[0];
}

/**
 * float32 bits of `x` rounded to float32 *to odd*: when `x` is not exactly a float32, truncate toward
 * zero and set the last bit. Rounding that result again to ≤ 22 significant bits (F16: 11, BF16: 8)
 * equals rounding `x` directly, so doubles (`number[]` data) avoid double-rounding errors such as
 * 1 + 2^-11 + 2^-40, which must round up in F16 but would tie (and round down) through float32.
 */
export function float32BitsRoundToOdd(x: number): number {
  f32[0] = x;
  let bits = u32[0];
  const rounded = f32[0];
  if (rounded !== x && x === x) {
    if (Math.abs(rounded) > Math.abs(x)) bits -= 1; // sign-magnitude: one step toward zero
    bits |= 1;
  }
  return bits >>> 0;
}

/** float32 bits → F16 bits, round to nearest even. */
export function f16FromFloat32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // ±Inf, quiet NaN
  const e = exp - 127 + 15; // F16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // F16 subnormal: value = m · 2^-24 with m = (1.mant · 2^23) · 2^(e - 14); below 2^-25 rounds to 0.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++; // may carry into the smallest normal: still right
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // carry may reach the exponent, even to Inf: right
  return h;
}

/** float32 bits → BF16 bits (the top half), round to nearest even. */
export function bf16FromFloat32Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Uint32Array | undefined;

/** float32 bits of every F16 pattern, built on first use (256 KiB). */
export function f16ToFloat32BitsTable(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f) table[h] = sign | 0x7f800000 | (m << 13);
    else if (e !== 0) table[h] = sign | ((e - 15 + 127) << 23) | (m << 13);
    else table[h] = (sign | float32Bits(m * 2 ** -24)) >>> 0; // zero or subnormal: exact in float32
  }
  f16Table = table;
  return table;
}

export function f16ToFloat32(h: number): number {
  return float32FromBits(f16ToFloat32BitsTable()[h & 0xffff]);
}

export function bf16ToFloat32(b: number): number {
  return float32FromBits((b & 0xffff) << 16);
}

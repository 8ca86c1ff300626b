// ggml's 16-bit floats: the scale `d` of every q8_0/q4_0 block is an IEEE half (GGML_FP32_TO_FP16,
// round to nearest even on every ggml CPU path: F16C's _cvtss_sh(x, 0) and the portable
// ggml_compute_fp32_to_fp16), and bf16 tensors keep the top half of a float32, rounded to nearest
// even (ggml_compute_fp32_to_bf16). Here because quant/ sits below io/, which has the same rules for
// safetensors (io/safetensors-float.ts).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 bit pattern of `x` (rounded to float32). */
export function float32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** Half bits of `x` (rounded to float32 first, as the C code's argument is a float). */
export function fp32ToFp16(x: number): number {
  const bits = float32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let m = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry into the exponent is right
  return h;
}

/** The value of half bits `h` (exact in float32). */
export function fp16ToFp32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** bf16 bits of `x`: NaN stays a quiet NaN, everything else rounds to nearest even. */
export function fp32ToBf16(x: number): number {
  const bits = float32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToFp32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

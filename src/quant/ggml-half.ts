// ggml's 16-bit floats: the scale `d` of every q8_0/q4_0 block is an IEEE half (GGML_FP32_TO_FP16,
// round to nearest even on every ggml CPU path: F16C's _cvtss_sh(x, 0) and the portable
// ggml_compute_fp32_to_fp16), and bf16 tensors keep the top half of a float32, rounded to nearest
// even (ggml_compute_fp32_to_bf16): the same rules as safetensors', so these are float16.ts under
// ggml's names.
import { bf16FromFloat32Bits, bf16ToFloat32, f16FromFloat32Bits, f16ToFloat32, float32Bits } from './float16.js';

/** Half bits of `x` (rounded to float32 first, as the C code's argument is a float). */
export const fp32ToFp16 = (x: number): number => f16FromFloat32Bits(float32Bits(x));

/** The value of half bits `h` (exact in float32). */
export const fp16ToFp32 = (h: number): number => f16ToFloat32(h);

/** bf16 bits of `x`: NaN stays a quiet NaN, everything else rounds to nearest even. */
export const fp32ToBf16 = (x: number): number => bf16FromFloat32Bits(float32Bits(x));

export const bf16ToFp32 = (b: number): number => bf16ToFloat32(b);

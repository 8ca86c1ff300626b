// bitsandbytes' signed 8-bit dynamic data type and its blockwise quantization: the format QLoRA's double
// quantization stores NF4's block absmax values in (./nf4-dq.ts). Read from bitsandbytes-foundation/
// bitsandbytes (commit 95f9af3): bitsandbytes/functional.py `create_dynamic_map(signed=True)`, `quantize_blockwise`,
// `dequantize_blockwise`, and csrc/kernels.cu `kQuantizeBlockwise` / `dQuantize<0>` (the CUDA kernel
// QLoRA ran on). Plain arrays only (no TF.js).

const f = Math.fround;

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` as ATen's scalar linspace kernel computes it:
 * step = (end − start)/(steps − 1) in float32; the first half counts up from start (start + step·i), the
 * second half down from end (end − step·(steps − 1 − i)), each product and sum rounded to float32.
 * (PyTorch's vectorised CPU path may differ in the last bit for a few entries; this is the rule we hold.)
 */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  return new Float32Array(steps).map((_, i) => (i < halfway ? f(s + f(step * i)) : f(e - f(step * (steps - 1 - i)))));
}

/** 10^(i − 6) for i = 0 … 6, as literals (Python's `10 ** (-(max_exponent_bits - 1) + i)`, correctly rounded). */
const DECADES = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

/**
 * `create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)`: for each decade i = 0 … 6, the
 * 2^i midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i − 6), with both signs (254 values), plus 0 and
 * 1, sorted ascending. Every product is float32 (a float32 tensor times a Python scalar). The map holds
 * 1 but not −1: its most negative value is −(1 − 0.9/128) ≈ −0.99297 (as float32).
 */
export function createDynamicMap(): Float32Array {
  const data: number[] = [0, 1];
  DECADES.forEach((decade, i) => {
    const bounds = linspaceF32(0.1, 1, 2 ** i + 1);
    for (let k = 0; k + 1 < bounds.length; k++) {
      const v = f(f(decade) * f(f(bounds[k] + bounds[k + 1]) / 2));
      data.push(v, -v);
    }
  });
  return new Float32Array(data).sort();
}

/** The 256 values of bitsandbytes' signed dynamic map, ascending (code 0 ≈ −0.99297, code 127 = 0, code 255 = 1). */
export const DYNAMIC_MAP: Float32Array = createDynamicMap();

/** Values per block of the 8-bit blockwise quantization of NF4's absmax (`quantize_4bit`'s `blocksize=256`). */
export const DYNAMIC_BLOCK = 256;

/**
 * The code of a value already scaled into [−1, 1]: csrc/kernels.cu `dQuantize<0>` step for step, a
 * 7-step binary search from code 127 that ends on an even code p, then the nearer of p and its
 * neighbour on x's side, the midpoint taken in float32. So the result is the nearest code, and a value
 * exactly on a midpoint goes to the EVEN code of the two. NaN (an all-zero block's 0·(1/0)) gives 0.
 * (bitsandbytes' other backends differ only on exact midpoints: the torch fallback's `bucketize` takes
 * the lower code, the CPU kernel rounds through a 65,536-entry table.)
 */
export function dynamicCode(x: number): number {
  const code = DYNAMIC_MAP;
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = -1;
  let upper = 1;
  let val = code[pivot];
  for (let i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = code[pivot];
  }
  if (upperPivot === 255) upper = code[255];
  if (lowerPivot === 0) lower = code[0];
  if (x > val) return x > f(upper + val) * 0.5 ? upperPivot : pivot;
  return x < f(lower + val) * 0.5 ? lowerPivot : pivot;
}

/** A float32 array quantized blockwise to the dynamic map: one code per value, one float32 absmax per block of 256. */
export interface DynamicBlocks {
  readonly codes: Uint8Array;
  readonly absmax: Float32Array;
}

/**
 * `quantize_blockwise(A, blocksize=256)` as the CUDA kernel does it: per block of 256 consecutive values
 * (the last may be shorter) absmax = max |x|, each x scaled by the float32 reciprocal 1/absmax, then
 * `dynamicCode`.
 */
export function quantizeDynamic(values: Float32Array): DynamicBlocks {
  const n = values.length;
  const absmax = new Float32Array(Math.ceil(n / DYNAMIC_BLOCK));
  const codes = new Uint8Array(n);
  for (let b = 0; b < absmax.length; b++) {
    const start = b * DYNAMIC_BLOCK;
    const end = Math.min(n, start + DYNAMIC_BLOCK);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(values[i]));
    absmax[b] = max;
    const inv = f(1 / max);
    for (let i = start; i < end; i++) codes[i] = dynamicCode(f(values[i] * inv));
  }
  return { codes, absmax };
}

/** `dequantize_blockwise`: value i = code[codes[i]] · absmax[i / 256], in float32. */
export function dynamicValue(q: DynamicBlocks, i: number): number {
  return f(DYNAMIC_MAP[q.codes[i]] * q.absmax[Math.floor(i / DYNAMIC_BLOCK)]);
}

// NF4 as QLoRA defines it and bitsandbytes stores it (`quantize_4bit(quant_type="nf4", blocksize=64)`):
// the row-major weight cut into blocks of 64 consecutive values (the last block may be shorter), each
// block scaled by its absmax (float32), each scaled value stored as the index of the nearest of the
// 16 NormalFloat levels, two 4-bit codes per byte with the FIRST value in the HIGH nibble.
// Plain arrays only (no TF.js). QLoRA's double quantization of the absmax (off by default in
// bitsandbytes) is ./nf4-dq.ts.

/**
 * QLoRA's NormalFloat4 levels: bitsandbytes' float32 constants (functional.py `get_4bit_type('nf4')`,
 * csrc kernels `nf4_data`), code 0 = −1 … code 7 = 0 … code 15 = 1.
 */
export const NF4_LEVELS: Float32Array = new Float32Array([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/**
 * bitsandbytes' decision thresholds (`dQuantizeNF4`): the midpoints of adjacent levels, as float32.
 * A value exactly on a threshold takes the LOWER code (the kernel tests `x > threshold`).
 */
export const NF4_THRESHOLDS: Float32Array = new Float32Array(15).map((_, i) => Math.fround((NF4_LEVELS[i] + NF4_LEVELS[i + 1]) / 2));

export const NF4_BLOCK = 64;

/** One NF4 weight: `codes` ceil(n/2) bytes, `absmax` one float32 per block of 64 values. */
export interface Nf4Blocks {
  readonly rows: number;
  readonly cols: number;
  readonly codes: Uint8Array;
  readonly absmax: Float32Array;
}

/** Bytes an NF4 [rows, cols] weight takes: packed codes plus one float32 absmax per block. */
export function nf4Bytes(rows: number, cols: number): number {
  const n = rows * cols;
  return Math.ceil(n / 2) + 4 * Math.ceil(n / NF4_BLOCK);
}

/** The code of a value already scaled into [−1, 1] (bitsandbytes' binary search, as a count of thresholds passed). */
export function nf4Code(x: number): number {
  let lo = 0; // the answer lies in [lo, hi]: thresholds below lo are passed, from hi on not
  let hi = 15;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x > NF4_THRESHOLDS[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Quantizes a row-major [rows, cols] float32 weight. Scaled value = x · (1/absmax) in float32, as
 * bitsandbytes' kernel multiplies by the reciprocal; an all-zero block stores the zero level (code 7).
 */
export function quantizeNf4(values: Float32Array, rows: number, cols: number): Nf4Blocks {
  const n = rows * cols;
  if (values.length !== n) throw new Error(`quantizeNf4: ${values.length} values for a [${rows}, ${cols}] weight`);
  const blocks = Math.ceil(n / NF4_BLOCK);
  const absmax = new Float32Array(blocks);
  const codes = new Uint8Array(Math.ceil(n / 2));
  for (let b = 0; b < blocks; b++) {
    const start = b * NF4_BLOCK;
    const end = Math.min(n, start + NF4_BLOCK);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(values[i]));
    absmax[b] = max;
    const inv = Math.fround(1 / max);
    for (let i = start; i < end; i++) {
      const code = max === 0 ? 7 : nf4Code(Math.fround(values[i] * inv));
      codes[i >> 1] |= (i & 1) === 0 ? code << 4 : code;
    }
  }
  return { rows, cols, codes, absmax };
}

/** Value i of an NF4 weight: level[code] · absmax of its block, in float32. */
export function nf4Value(q: Nf4Blocks, i: number): number {
  const byte = q.codes[i >> 1];
  const code = (i & 1) === 0 ? byte >> 4 : byte & 15;
  return Math.fround(NF4_LEVELS[code] * q.absmax[Math.floor(i / NF4_BLOCK)]);
}

export function dequantizeNf4(q: Nf4Blocks): Float32Array {
  const out = new Float32Array(q.rows * q.cols);
  for (let i = 0; i < out.length; i++) out[i] = nf4Value(q, i);
  return out;
}

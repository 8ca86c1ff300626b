// NF4 with QLoRA's double quantization, as bitsandbytes stores it with `quantize_4bit(quant_type="nf4",
// blocksize=64, compress_statistics=True)` (bnb_4bit_use_double_quant=True): the 4-bit codes of ./nf4.ts
// unchanged, and the per-block float32 absmax replaced by offset = mean(absmax) (float32) and
// absmax − offset quantized blockwise (blocks of 256 absmax values) to bitsandbytes' 8-bit dynamic map
// (./dynamic-map.ts). Dequantization follows `dequantize_4bit`: absmax_b = code[q_b]·absmax2[b/256] +
// offset, each step rounded to float32, then value = level·absmax_b as in NF4.
// Bytes per value: 0.5 (codes) + 1/64 (absmax codes) + 4/(64·256) (absmax2), plus 4 for the offset.
import { DYNAMIC_BLOCK, dynamicValue, quantizeDynamic } from './dynamic-map.js';
import { NF4_BLOCK, dequantizeNf4, quantizeNf4 } from './nf4.js';

/** One double-quantized NF4 weight. */
export interface Nf4DqBlocks {
  readonly rows: number;
  readonly cols: number;
  /** Packed 4-bit codes, ceil(n/2) bytes, first value in the high nibble (as ./nf4.ts). */
  readonly codes: Uint8Array;
  /** Per block of 64 values: the dynamic-map code of absmax − offset. */
  readonly absmaxCodes: Uint8Array;
  /** Per 256 blocks: the absmax of their absmax − offset. */
  readonly absmax2: Float32Array;
  /** mean(absmax), float32. */
  readonly offset: number;
}

/** Bytes an NF4-DQ [rows, cols] weight takes: codes, one byte per block of 64, one float32 per 256 blocks, the offset. */
export function nf4DqBytes(rows: number, cols: number): number {
  const n = rows * cols;
  const blocks = Math.ceil(n / NF4_BLOCK);
  return Math.ceil(n / 2) + blocks + 4 * Math.ceil(blocks / DYNAMIC_BLOCK) + 4;
}

/**
 * Quantizes a row-major [rows, cols] float32 weight: NF4 (./nf4.ts), then its absmax as `quantize_4bit`
 * does with compress_statistics: offset = absmax.mean() (here the float64 mean rounded once to float32;
 * torch's float32 reduction may differ in the last bit), `quantize_blockwise(absmax − offset, blocksize=256)`.
 */
export function quantizeNf4Double(values: Float32Array, rows: number, cols: number): Nf4DqBlocks {
  const { codes, absmax } = quantizeNf4(values, rows, cols);
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = Math.fround(sum / absmax.length);
  const centred = absmax.map((a) => a - offset); // Float32Array.map rounds each to float32
  const q = quantizeDynamic(centred);
  return { rows, cols, codes, absmaxCodes: q.codes, absmax2: q.absmax, offset };
}

/** The block scales `dequantize_4bit` recovers: code[q_b]·absmax2[b/256] + offset, in float32. */
export function nf4DqAbsmax(q: Nf4DqBlocks): Float32Array {
  const inner = { codes: q.absmaxCodes, absmax: q.absmax2 };
  return new Float32Array(q.absmaxCodes.length).map((_, b) => dynamicValue(inner, b) + q.offset);
}

export function dequantizeNf4Double(q: Nf4DqBlocks): Float32Array {
  return dequantizeNf4({ rows: q.rows, cols: q.cols, codes: q.codes, absmax: nf4DqAbsmax(q) });
}

/**
 * The native engine's layout of an NF4-DQ weight (native/src/frozen.cc): `bytes` the packed codes then
 * the absmax codes, `scales` absmax2 then the offset.
 */
export function nf4DqStorage(q: Nf4DqBlocks): { bytes: Uint8Array; scales: Float32Array } {
  const bytes = new Uint8Array(q.codes.length + q.absmaxCodes.length);
  bytes.set(q.codes);
  bytes.set(q.absmaxCodes, q.codes.length);
  const scales = new Float32Array(q.absmax2.length + 1);
  scales.set(q.absmax2);
  scales[q.absmax2.length] = q.offset;
  return { bytes, scales };
}

/** Reads `nf4DqStorage`'s layout back (views, no copies). */
export function nf4DqFromStorage(rows: number, cols: number, bytes: Uint8Array, scales: Float32Array): Nf4DqBlocks {
  const n = rows * cols;
  const half = Math.ceil(n / 2);
  const blocks = Math.ceil(n / NF4_BLOCK);
  const groups = Math.ceil(blocks / DYNAMIC_BLOCK);
  if (bytes.length !== half + blocks || scales.length !== groups + 1) {
    throw new Error(`nf4-dq [${rows}, ${cols}]: ${bytes.length} bytes and ${scales.length} scales, expected ${half + blocks} and ${groups + 1}`);
  }
  return { rows, cols, codes: bytes.subarray(0, half), absmaxCodes: bytes.subarray(half), absmax2: scales.subarray(0, groups), offset: scales[groups] };
}

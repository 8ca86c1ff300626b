// ggml's q8_0 (ggml-common.h block_q8_0, ggml-quants.c quantize_row_q8_0_ref / dequantize_row_q8_0):
// blocks of 32 values, each block a half scale d = max|x| / 127 and 32 int8 q = roundf(x / d),
// value = q·d. Bit for bit as the C reference: every product in float32 (Math.fround), roundf
// rounding halves away from zero, d stored as a half but 1/d taken from the float32 d.
import { fp16ToFp32, fp32ToFp16 } from './ggml-half.js';

export const QK8_0 = 32;
/** Bytes per block: the half d, then 32 int8. */
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

const fr = Math.fround;
/** C's roundf: halves away from zero. `v` is a float32, so v ± 0.5 is exact in a double. */
const roundf = (v: number): number => (v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5));

/** q8_0 blocks of `x` (length a multiple of 32), little-endian. */
export function quantizeRowQ8_0(x: ArrayLike<number>): Uint8Array {
  if (x.length % QK8_0 !== 0) throw new Error(`q8_0: a row of ${x.length} values is not a whole number of ${QK8_0}-value blocks`);
  const nb = x.length / QK8_0;
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const base = i * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(fr(x[base + j])));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    const at = i * Q8_0_BLOCK_BYTES;
    view.setUint16(at, fp32ToFp16(d), true);
    for (let j = 0; j < QK8_0; j++) view.setInt8(at + 2 + j, roundf(fr(fr(x[base + j]) * id)));
  }
  return out;
}

/** The `k` values of q8_0 blocks. */
export function dequantizeRowQ8_0(blocks: Uint8Array, k: number): Float32Array {
  if (k % QK8_0 !== 0 || blocks.length < (k / QK8_0) * Q8_0_BLOCK_BYTES) throw new Error(`q8_0: ${blocks.length} bytes do not hold ${k} values`);
  const view = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  const out = new Float32Array(k);
  for (let i = 0; i < k / QK8_0; i++) {
    const at = i * Q8_0_BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(at, true));
    for (let j = 0; j < QK8_0; j++) out[i * QK8_0 + j] = view.getInt8(at + 2 + j) * d;
  }
  return out;
}

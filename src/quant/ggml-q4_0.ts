// ggml's q4_0 (ggml-common.h block_q4_0, ggml-quants.c quantize_row_q4_0_ref / dequantize_row_q4_0):
// blocks of 32 values, each block a half scale d = max / -8 (max: the value of largest magnitude,
// sign kept, the first one on ties) and 16 bytes of 4-bit q = min(15, (int8)(x/d + 8.5)); byte j
// holds value j in its low nibble and value j + 16 in its high one; value = (q - 8)·d. Bit for bit
// as the C reference (float32 arithmetic, the cast truncating).
import { fp16ToFp32, fp32ToFp16 } from './ggml-half.js';

export const QK4_0 = 32;
/** Bytes per block: the half d, then 16 bytes of nibbles. */
export const Q4_0_BLOCK_BYTES = 2 + QK4_0 / 2;

const fr = Math.fround;

/** q4_0 blocks of `x` (length a multiple of 32), little-endian. */
export function quantizeRowQ4_0(x: ArrayLike<number>): Uint8Array {
  if (x.length % QK4_0 !== 0) throw new Error(`q4_0: a row of ${x.length} values is not a whole number of ${QK4_0}-value blocks`);
  const nb = x.length / QK4_0;
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const nibble = (v: number, id: number): number => Math.min(15, Math.trunc(fr(fr(fr(v) * id) + 8.5)));
  for (let i = 0; i < nb; i++) {
    const base = i * QK4_0;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK4_0; j++) {
      const v = fr(x[base + j]);
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    const at = i * Q4_0_BLOCK_BYTES;
    view.setUint16(at, fp32ToFp16(d), true);
    for (let j = 0; j < QK4_0 / 2; j++) out[at + 2 + j] = nibble(x[base + j], id) | (nibble(x[base + QK4_0 / 2 + j], id) << 4);
  }
  return out;
}

/** The `k` values of q4_0 blocks. */
export function dequantizeRowQ4_0(blocks: Uint8Array, k: number): Float32Array {
  if (k % QK4_0 !== 0 || blocks.length < (k / QK4_0) * Q4_0_BLOCK_BYTES) throw new Error(`q4_0: ${blocks.length} bytes do not hold ${k} values`);
  const view = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
  const out = new Float32Array(k);
  for (let i = 0; i < k / QK4_0; i++) {
    const at = i * Q4_0_BLOCK_BYTES;
    const d = fp16ToFp32(view.getUint16(at, true));
    for (let j = 0; j < QK4_0 / 2; j++) {
      const q = blocks[at + 2 + j];
      out[i * QK4_0 + j] = ((q & 0x0f) - 8) * d;
      out[i * QK4_0 + j + QK4_0 / 2] = ((q >> 4) - 8) * d;
    }
  }
  return out;
}

// ggml's tensor types that lorapro writes, one entry each as ggml.c's type_traits: the id GGUF
// stores, values per block, bytes per block, and the one routine each way between a row of float32
// values and its bytes. A row's length must be a whole number of blocks (`rowFits`).
import { bf16ToFp32, fp16ToFp32, fp32ToBf16, fp32ToFp16 } from './ggml-half.js';
import { dequantizeRowQ4_0, QK4_0, Q4_0_BLOCK_BYTES, quantizeRowQ4_0 } from './ggml-q4_0.js';
import { dequantizeRowQ8_0, QK8_0, Q8_0_BLOCK_BYTES, quantizeRowQ8_0 } from './ggml-q8_0.js';

export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0';

export interface GgmlTypeTraits {
  /** enum ggml_type, as GGUF's tensor infos store it. */
  readonly id: number;
  /** Values per block (1 for plain floats). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  readonly quantize: (x: ArrayLike<number>) => Uint8Array;
  readonly dequantize: (bytes: Uint8Array, k: number) => Float32Array;
}

function halves(encode: (x: number) => number): (x: ArrayLike<number>) => Uint8Array {
  return (x) => {
    const out = new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = encode(x[i]);
    return new Uint8Array(out.buffer); // little-endian hosts only, as the rest of lorapro's writers
  };
}

function fromHalves(decode: (h: number) => number): (bytes: Uint8Array, k: number) => Float32Array {
  return (bytes, k) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Float32Array.from({ length: k }, (_, i) => decode(view.getUint16(2 * i, true)));
  };
}

export const GGML_TYPES: Readonly<Record<GgmlType, GgmlTypeTraits>> = Object.freeze({
  F32: {
    id: 0,
    blockSize: 1,
    typeSize: 4,
    quantize: (x) => new Uint8Array(Float32Array.from(x).buffer),
    dequantize: (bytes, k) => new Float32Array(bytes.slice(0, 4 * k).buffer),
  },
  F16: { id: 1, blockSize: 1, typeSize: 2, quantize: halves(fp32ToFp16), dequantize: fromHalves(fp16ToFp32) },
  Q4_0: { id: 2, blockSize: QK4_0, typeSize: Q4_0_BLOCK_BYTES, quantize: quantizeRowQ4_0, dequantize: dequantizeRowQ4_0 },
  Q8_0: { id: 8, blockSize: QK8_0, typeSize: Q8_0_BLOCK_BYTES, quantize: quantizeRowQ8_0, dequantize: dequantizeRowQ8_0 },
  BF16: { id: 30, blockSize: 1, typeSize: 2, quantize: halves(fp32ToBf16), dequantize: fromHalves(bf16ToFp32) },
});

/** Whether rows of `rowLength` values can be stored as `type` (whole blocks). */
export const rowFits = (type: GgmlType, rowLength: number): boolean => rowLength % GGML_TYPES[type].blockSize === 0;

/** Bytes of a tensor of `count` values stored as `type`. */
export const ggmlBytes = (type: GgmlType, count: number): number => (count / GGML_TYPES[type].blockSize) * GGML_TYPES[type].typeSize;

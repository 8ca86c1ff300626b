// The frozen-weight storage formats and their type traits, one entry each (llama.cpp's `type_traits`):
// the checkpoint's own float types, kept byte for byte, and the quantized block formats. The
// native engine's kernels take the `code` (native/src/frozen.h `Format`).
import { int8Bytes } from './int8.js';
import { NF4_BLOCK, nf4Bytes } from './nf4.js';
import { DYNAMIC_BLOCK } from './dynamic-map.js';
import { nf4DqBytes } from './nf4-dq.js';

export type FrozenFormat = 'f32' | 'bf16' | 'f16' | 'int8' | 'nf4' | 'nf4-dq';

export interface FormatTraits {
  readonly name: FrozenFormat;
  /** The native kernels' format number. */
  readonly code: number;
  /** Values per block sharing one scale: 1 for plain floats, a row for int8 (0 = "one row"), 64 for NF4. */
  readonly blockSize: number;
  /** Bytes per value, scales included, for a large weight (estimates). */
  readonly bytesPerValue: number;
  /** Exact bytes of a [rows, cols] weight, scales included. */
  bytes(rows: number, cols: number): number;
  readonly quantized: boolean;
}

export const FORMATS: Readonly<Record<FrozenFormat, FormatTraits>> = Object.freeze({
  f32: { name: 'f32', code: 0, blockSize: 1, bytesPerValue: 4, bytes: (r, c) => 4 * r * c, quantized: false },
  bf16: { name: 'bf16', code: 1, blockSize: 1, bytesPerValue: 2, bytes: (r, c) => 2 * r * c, quantized: false },
  f16: { name: 'f16', code: 2, blockSize: 1, bytesPerValue: 2, bytes: (r, c) => 2 * r * c, quantized: false },
  int8: { name: 'int8', code: 3, blockSize: 0, bytesPerValue: 1, bytes: int8Bytes, quantized: true },
  nf4: { name: 'nf4', code: 4, blockSize: NF4_BLOCK, bytesPerValue: 0.5 + 4 / NF4_BLOCK, bytes: nf4Bytes, quantized: true },
  'nf4-dq': { name: 'nf4-dq', code: 5, blockSize: NF4_BLOCK, bytesPerValue: 0.5 + 1 / NF4_BLOCK + 4 / (NF4_BLOCK * DYNAMIC_BLOCK), bytes: nf4DqBytes, quantized: true },
});

/** What `--quantize` accepts. */
export type QuantizeMode = 'none' | 'int8' | 'nf4' | 'nf4-dq';
export const QUANTIZE_MODES: readonly QuantizeMode[] = Object.freeze(['none', 'int8', 'nf4', 'nf4-dq']);

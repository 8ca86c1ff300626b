// Frozen weights outside the wasm heap: a base model's linear and embedding weights that do not train,
// kept in the checkpoint's own float type (bf16, f16, f32: its bytes as they are) or quantized at load
// (int8 rows, NF4 blocks, NF4 with double-quantized absmax: src/quant/). Under the native engine their
// bytes live in ordinary Node ArrayBuffers (V8 backing stores, not the wasm heap) and the native GEMM
// reads them in place, converting while it packs (./kernels/frozen.ts); no float32 copy is ever made
// on the heap.
// Elsewhere (the wasm SIMD fallback, cpu, browsers) a FrozenWeight holds the same numbers as a
// float32 tensor instead: same results, no saving.
//
// One owner: a FrozenWeight's `dispose()` frees its bytes; `frozenBytes()` counts what is live.
import { tf } from './tf.js';
import { FORMATS, type FrozenFormat, type QuantizeMode } from '../quant/formats.js';
import { widenFloats } from '../quant/floats.js';
import { dequantizeInt8, quantizeInt8 } from '../quant/int8.js';
import { dequantizeNf4, quantizeNf4 } from '../quant/nf4.js';
import { dequantizeNf4Double, nf4DqFromStorage, nf4DqStorage, quantizeNf4Double } from '../quant/nf4-dq.js';
import { addFrozen, frozenData, removeFrozen } from './frozen-store.js';
import { FROZEN_GATHER, FROZEN_MATMUL } from './kernels/frozen.js';
import { nativeHeap } from './kernels/native-ops.js';
import { asWasmBackend } from './kernels/wasm-backend.js';

export { frozenBytes, frozenCount } from './frozen-store.js';

/** A checkpoint tensor as io/ reads it (RawTensor, structurally): dtype name, shape, little-endian bytes. */
export interface StoredTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

const STORED_FORMAT: Readonly<Record<string, 'f32' | 'bf16' | 'f16'>> = { F32: 'f32', BF16: 'bf16', F16: 'f16' };

/** Whether frozen weights made now live outside the heap: the native engine is on and reaches the heap. */
export function frozenTierNative(): boolean {
  return tf.getBackend() === 'wasm' && nativeHeap(asWasmBackend(tf.backend())) !== null;
}

interface Quantized {
  bytes: Uint8Array;
  scales: Float32Array | null;
}

type QuantizedFormat = 'int8' | 'nf4' | 'nf4-dq';

function quantize(values: Float32Array, rows: number, cols: number, format: QuantizedFormat): Quantized {
  if (format === 'int8') {
    const q = quantizeInt8(values, rows, cols);
    return { bytes: new Uint8Array(q.values.buffer), scales: q.scales };
  }
  if (format === 'nf4-dq') return nf4DqStorage(quantizeNf4Double(values, rows, cols));
  const q = quantizeNf4(values, rows, cols);
  return { bytes: q.codes, scales: q.absmax };
}

function dequantize(q: Quantized, rows: number, cols: number, format: QuantizedFormat): Float32Array {
  if (format === 'int8') return dequantizeInt8({ rows, cols, values: new Int8Array(q.bytes.buffer, q.bytes.byteOffset, q.bytes.byteLength), scales: q.scales! });
  if (format === 'nf4-dq') return dequantizeNf4Double(nf4DqFromStorage(rows, cols, q.bytes, q.scales!));
  return dequantizeNf4({ rows, cols, codes: q.bytes, absmax: q.scales! });
}

/** An array's bytes in a buffer of their own (a view into a whole file's buffer would keep the file alive). */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
}

/**
 * A frozen [rows, cols] weight (row-major, PyTorch's [out, in] for a linear layer) and the two products
 * a frozen layer needs: y = x·Wᵀ (forward) and dx = dy·W (its input gradient), plus row gathers.
 *
 * @example
 *   const w = FrozenWeight.fromStored({ dtype: 'BF16', shape: [out, inF], bytes }, 'nf4', 'q_proj.weight');
 *   const y = w.matmul(x2, 0); // [N, out]
 *   w.dispose();
 */
export class FrozenWeight {
  private handle: number | undefined; // native storage (./frozen-store.ts)
  private dense: tf.Tensor2D | undefined; // the fallback's float32 tensor

  private constructor(
    readonly rows: number,
    readonly cols: number,
    readonly format: FrozenFormat,
    stored: Quantized | Float32Array,
  ) {
    if (stored instanceof Float32Array) {
      this.dense = tf.keep(tf.tensor2d(stored, [rows, cols], 'float32'));
    } else {
      this.handle = addFrozen({ bytes: stored.bytes, scales: stored.scales, code: FORMATS[format].code, rows, cols });
    }
  }

  /** Bytes a [rows, cols] weight takes in `format`, scales included (for memory estimates without loading). */
  static bytesFor(format: FrozenFormat, rows: number, cols: number): number {
    return FORMATS[format].bytes(rows, cols);
  }

  /**
   * From a checkpoint tensor: kept as stored (F32, BF16, F16) with `quantize` 'none', else quantized.
   * `name` is the tensor's, for errors.
   */
  static fromStored(t: StoredTensor, quantize: QuantizeMode, name: string): FrozenWeight {
    const stored = STORED_FORMAT[t.dtype];
    if (stored === undefined) throw new Error(`${name}: a frozen weight must be stored as F32, BF16 or F16, got ${t.dtype}`);
    if (t.shape.length !== 2) throw new Error(`${name}: a frozen weight must be 2-D, got [${t.shape}]`);
    const [rows, cols] = t.shape;
    if (t.bytes.byteLength !== FORMATS[stored].bytes(rows, cols)) throw new Error(`${name}: ${t.bytes.byteLength} bytes for ${t.dtype} [${rows}, ${cols}]`);
    if (quantize === 'none' && frozenTierNative()) return new FrozenWeight(rows, cols, stored, { bytes: ownBytes(t.bytes), scales: null });
    return FrozenWeight.fromFloat32(widenFloats(stored, t.bytes), rows, cols, quantize === 'none' ? stored : quantize);
  }

  /** From float32 values, stored in `format` (bf16 / f16 only as a label of values already in that type). */
  static fromFloat32(values: Float32Array, rows: number, cols: number, format: FrozenFormat): FrozenWeight {
    if (values.length !== rows * cols) throw new Error(`FrozenWeight: ${values.length} values for [${rows}, ${cols}]`);
    const native = frozenTierNative();
    if (FORMATS[format].quantized) {
      const q = quantize(values, rows, cols, format as QuantizedFormat);
      return new FrozenWeight(rows, cols, format, native ? q : dequantize(q, rows, cols, format as QuantizedFormat));
    }
    if (native && format === 'f32') return new FrozenWeight(rows, cols, 'f32', { bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice(), scales: null });
    return new FrozenWeight(rows, cols, format, values);
  }

  /** True when the bytes live outside the wasm heap and the native kernels read them. */
  get native(): boolean {
    return this.handle !== undefined;
  }

  /** Bytes this weight holds outside the heap (0 on the fallback, whose tensor is on the backend). */
  get nativeBytes(): number {
    return this.handle === undefined ? 0 : FrozenWeight.bytesFor(this.format, this.rows, this.cols);
  }

  private live(): void {
    if (this.handle === undefined && this.dense === undefined) throw new Error(`FrozenWeight [${this.rows}, ${this.cols}] ${this.format} was disposed`);
  }

  /** mode 0: x [N, cols] → x·Wᵀ [N, rows]; mode 1: dy [N, rows] → dy·W [N, cols]. Differentiable in x. */
  matmul(x: tf.Tensor2D, mode: 0 | 1): tf.Tensor2D {
    this.live();
    if (this.handle !== undefined) {
      return tf.engine().runKernel(FROZEN_MATMUL, { x }, { handle: this.handle, mode }) as tf.Tensor2D;
    }
    return mode === 0 ? tf.matMul(x, this.dense!, false, true) : tf.matMul(x, this.dense!);
  }

  /** Rows of W for int32 ids [...] → [..., cols]. */
  gather(ids: tf.Tensor): tf.Tensor {
    this.live();
    if (this.handle !== undefined) return tf.engine().runKernel(FROZEN_GATHER, { ids }, { handle: this.handle }) as tf.Tensor;
    return tf.gather(this.dense!, ids);
  }

  /** W as float32 [rows·cols], dequantized when quantized (merges, saves, inits). */
  toFloat32(): Float32Array {
    this.live();
    if (this.dense !== undefined) return this.dense.dataSync() as Float32Array;
    const d = frozenData(this.handle!);
    if (FORMATS[this.format].quantized) return dequantize(d, this.rows, this.cols, this.format as QuantizedFormat);
    return widenFloats(this.format as 'f32' | 'bf16' | 'f16', d.bytes);
  }

  dispose(): void {
    if (this.handle !== undefined) removeFrozen(this.handle);
    this.dense?.dispose();
    this.handle = undefined;
    this.dense = undefined;
  }
}

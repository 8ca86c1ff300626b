// Sum for the wasm backend, with a fast path for reducing leading axes. The stock kernel (tfjs-backend-wasm
// 4.22) reduces innermost axes only, so summing over rows (a bias gradient: dy [N, out] → [out]; a
// LayerNorm weight gradient: [B, T, C] → [C]) first transposes the whole input: ~10 ms for [2048, 512].
// A row-by-row accumulation over a heap view costs one pass instead. Every other case is the stock kernel.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { Sum, backend_util, getKernel, util } from '@tensorflow/tfjs-core';
import type { DataType, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm'; // registers the stock Sum this one falls back to

const stock = getKernel(Sum, 'wasm');
if (stock === undefined) throw new Error('the wasm backend has no Sum kernel registered');
const stockSum = stock;

interface HeapBackend {
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface SumArgs {
  inputs: { x: TensorInfo };
  attrs: { axis: number | number[]; keepDims: boolean };
  backend: unknown;
}

/** The number of leading axes `axes` names when they are exactly 0 … k−1 (and not every axis), else 0. */
function leadingAxes(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length === rank || sorted.some((a, i) => a !== i)) return 0;
  return sorted.length;
}

function sum(args: SumArgs): TensorInfo {
  const { x } = args.inputs;
  const axes = util.parseAxisParam(args.attrs.axis, x.shape);
  const k = leadingAxes(axes, x.shape.length);
  if (x.dtype !== 'float32' || k === 0) return stockSum.kernelFunc(args as never) as TensorInfo;
  const backend = args.backend as HeapBackend;
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const keptShape = x.shape.slice(k);
  const width = util.sizeFromShape(keptShape);
  const outShape = args.attrs.keepDims ? backend_util.expandShapeToKeepDim(keptShape, axes) : keptShape;
  const out = backend.makeOutput(outShape, 'float32');
  backend.typedArrayFromHeap(out).set(sumRows(backend.typedArrayFromHeap(x) as Float32Array, rows, width)); // a view: no copy
  return out;
}

/** Σ over rows of a row-major [rows, width] matrix, in double (JS numbers), rounded once; four rows per pass halve the time. */
function sumRows(x: Float32Array, rows: number, width: number): Float64Array {
  const acc = new Float64Array(width);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = r * width;
    const b1 = b0 + width;
    const b2 = b1 + width;
    const b3 = b2 + width;
    for (let j = 0; j < width; j++) acc[j] += x[b0 + j] + x[b1 + j] + (x[b2 + j] + x[b3 + j]);
  }
  for (; r < rows; r++) {
    const base = r * width;
    for (let j = 0; j < width; j++) acc[j] += x[base + j];
  }
  return acc;
}

export const sumConfig: KernelConfig = { kernelName: Sum, backendName: 'wasm', kernelFunc: sum as unknown as KernelFunc, setupFunc: stockSum.setupFunc };

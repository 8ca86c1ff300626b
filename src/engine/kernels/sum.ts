// Sum for the wasm backend, with a fast path for reducing leading axes. The stock kernel (tfjs-backend-wasm
// 4.22) reduces innermost axes only, so summing over rows (a bias gradient: dy [N, out] → [out]; a
// LayerNorm weight gradient: [B, T, C] → [C]) first transposes the whole input: ~10 ms for [2048, 512].
// A row-by-row accumulation costs one pass instead: in WebAssembly SIMD on the heap, in double (as the
// JS loop it replaced, which runs where the width is no multiple of 4 or there is no SIMD). Every other
// case is the stock kernel.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { Sum, backend_util, getKernel, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm'; // registers the stock Sum this one falls back to
import { assembleModule, moduleCache, op } from './wasm-asm.js';
import { asWasmBackend, heapMemory, wasmData } from './wasm-backend.js';

const stock = getKernel(Sum, 'wasm');
if (stock === undefined) throw new Error('the wasm backend has no Sum kernel registered');
const stockSum = stock;

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
  const backend = asWasmBackend(args.backend);
  const rows = util.sizeFromShape(x.shape.slice(0, k));
  const keptShape = x.shape.slice(k);
  const width = util.sizeFromShape(keptShape);
  const outShape = args.attrs.keepDims ? backend_util.expandShapeToKeepDim(keptShape, axes) : keptShape;
  const memory = heapMemory(backend);
  const kernel = memory !== null && width % 4 === 0 && rows > 0 && width > 0 ? bind(memory) : null;
  if (kernel === null) {
    const out = backend.makeOutput(outShape, 'float32');
    backend.typedArrayFromHeap(out).set(sumRows(backend.typedArrayFromHeap(x) as Float32Array, rows, width)); // a view: no copy
    return out;
  }
  const acc = backend.makeOutput([2 * width], 'float32'); // width doubles
  const out = backend.makeOutput(outShape, 'float32');
  try {
    const accAt = wasmData(backend, acc).memoryOffset;
    const sums = new Float64Array(backend.typedArrayFromHeap(acc).buffer, accAt, width);
    sums.fill(0);
    kernel.sumRows(wasmData(backend, x).memoryOffset, accAt, rows, width / 4);
    backend.typedArrayFromHeap(out).set(sums);
  } finally {
    backend.disposeData(acc.dataId);
  }
  return out;
}

const { get, set, i32, add, sub, loop, end, brIf, vLoad, vStore, vLoad64Zero, f64x2PromoteLow, f64x2Add } = op;

/** sumRows(x, acc, rows, quads): acc[j] (f64) += x[r, j] (f32) over rows r; a row is `quads` x 4 floats. */
const bind = moduleCache<{ sumRows(x: number, acc: number, rows: number, quads: number): void }>(() => {
  const [x, acc, rows, quads] = [0, 1, 2, 3];
  const [p, q] = [4, 5];
  const code = [
    loop, // over rows
    get(acc), set(p), get(quads), set(q),
    loop, // over 4 floats of the row: two f64x2 accumulators
    get(p), get(p), vLoad(0), get(x), vLoad64Zero(0), f64x2PromoteLow, f64x2Add, vStore(0),
    get(p), get(p), vLoad(16), get(x), vLoad64Zero(8), f64x2PromoteLow, f64x2Add, vStore(16),
    get(x), i32(16), add, set(x), get(p), i32(32), add, set(p),
    get(q), i32(1), sub, set(q), get(q), brIf(0),
    end,
    get(rows), i32(1), sub, set(rows), get(rows), brIf(0),
    end,
  ].flat();
  return assembleModule([{ name: 'sumRows', params: 4, i32Locals: 2, v128Locals: 0, code }]);
});

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

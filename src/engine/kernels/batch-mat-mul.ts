// BatchMatMul for the wasm backend that keeps every sizeable case on fast code. Under the native engine
// (../native.ts) the C++ kernel does every product on the heap in place, any transpose or broadcast
// being a choice of strides. Without it: the stock kernel
// (tfjs-backend-wasm 4.22, batch_mat_mul_impl.cc) uses XNNPACK's fully-connected operator only for a single
// [1, m, k] x [1, k, n] product without transposes; anything else (a transpose, batch > 1) runs a scalar
// triple loop ~10x slower. Here, where m is a multiple of 4 and n of 8, the project's SIMD kernel
// (./simd-gemm.ts) does every product, reading a transposed A as stored; otherwise transposes become the
// backend's Transpose kernel, a shared right operand folds the batch into rows, and a true batch loops over
// its matrices, each handed to XNNPACK as a zero-copy view (tiny ones to the module's loop).
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { BatchMatMul, Transpose, broadcast_util, getKernel, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { TILE_COLS, TILE_ROWS, gemm, scratchFloats, simdGemm } from './simd-gemm.js';
import { asWasmBackend, heapMemory, registerView, releaseView, wasmData, type WasmBackend } from './wasm-backend.js';
import { nativeAddon } from '../native.js';

const F32_BYTES = 4;

// Below this many multiply-adds per matrix, the fixed cost of one XNNPACK call (creating its operator and
// packing the right operand, ~10 us) exceeds the module's scalar loop (~2 ns per multiply-add), so a
// batch of small matrices goes to that loop in one call. Measured on a 2-core EPYC: the scalar loop wins at
// 16x16x16, XNNPACK from 16x32x16 on (the tiny/small batched rows of dist/bench/matmul.js).
const SMALL_MATRIX_MACS = 6144;

// XNNPACK's packing of the right operand costs ~2.5x a Transpose kernel per float (both measured on the
// same box: ~17 ns vs ~7 ns), which decides between the two ways of laying out a product below.
const PACK_COST = 2.5;

type WasmMatMul = (
  aId: number, aShape: Uint8Array, aRank: number,
  bId: number, bShape: Uint8Array, bRank: number,
  transposeA: boolean, transposeB: boolean, outId: number,
) => void;

// The module's exported C function, bound once per backend instance (a backend can be re-created).
const bound = new WeakMap<WasmBackend, WasmMatMul>();

function wasmMatMul(backend: WasmBackend): WasmMatMul {
  let fn = bound.get(backend);
  if (fn === undefined) {
    const args = ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'] as const;
    fn = backend.wasm.cwrap(BatchMatMul, null, [...args]) as WasmMatMul;
    bound.set(backend, fn);
  }
  return fn;
}

/** `count` row-major [rows, cols] float32 matrices stored back to back from a heap byte offset. */
interface Stack {
  offset: number;
  count: number;
  rows: number;
  cols: number;
}

function stackOf(backend: WasmBackend, x: TensorInfo): Stack {
  const rank = x.shape.length;
  const count = util.sizeFromShape(x.shape.slice(0, -2));
  return { offset: wasmData(backend, x).memoryOffset, count, rows: x.shape[rank - 2], cols: x.shape[rank - 1] };
}

/** The i-th matrix of a stack, as a stack of one. */
function matrixAt(s: Stack, i: number): Stack {
  return { offset: s.offset + i * s.rows * s.cols * F32_BYTES, count: 1, rows: s.rows, cols: s.cols };
}

function shapeBytes(s: Stack): Uint8Array {
  return new Uint8Array(new Int32Array([s.count, s.rows, s.cols]).buffer);
}

/**
 * The module's own BatchMatMul on zero-copy views: XNNPACK when neither side is transposed and both counts
 * are 1, its scalar loop otherwise. The views get fresh ids, so XNNPACK packs `b` afresh and frees the packing
 * with the view. The stock kernel passes `b`'s own id instead, and XNNPACK keeps the packing until that tensor
 * is disposed: a second copy of every frozen weight used as a right operand (the wasm heap stops at 4 GB),
 * misread after a reshape (same id, other [k, n]). Repacking costs ~17 ns a float: ~7% of [2048,128]x[128,384].
 */
function callWasm(backend: WasmBackend, a: Stack, b: Stack, outOffset: number, transposeA: boolean, transposeB: boolean): void {
  const m = transposeA ? a.cols : a.rows;
  const n = transposeB ? b.rows : b.cols;
  const aId = registerView(backend, a.offset, a.count * a.rows * a.cols);
  const bId = registerView(backend, b.offset, b.count * b.rows * b.cols);
  const outId = registerView(backend, outOffset, Math.max(a.count, b.count) * m * n);
  try {
    wasmMatMul(backend)(aId, shapeBytes(a), 3, bId, shapeBytes(b), 3, transposeA, transposeB, outId);
  } finally {
    releaseView(backend, aId);
    releaseView(backend, bId); // also deletes the XNNPACK operator (and packing) cached on it
    releaseView(backend, outId);
  }
}

/** For each flat index into `outShape`, the flat index into `inShape` that broadcasts to it (TF rules). */
function broadcastIndex(outShape: number[], inShape: number[]): Int32Array {
  const padded = [...new Array<number>(outShape.length - inShape.length).fill(1), ...inShape];
  const index = new Int32Array(util.sizeFromShape(outShape));
  for (let flat = 0; flat < index.length; flat++) {
    let rest = flat;
    let stride = 1;
    let source = 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      const coord = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
      if (padded[d] !== 1) source += coord * stride;
      stride *= padded[d];
    }
    index[flat] = source;
  }
  return index;
}

/** out[..., m, n] = a[..., m, k] x b[..., k, n], both stored untransposed, every product on XNNPACK. */
function plainBatchMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, batchShape: number[]): TensorInfo {
  const m = a.shape[a.shape.length - 2];
  const n = b.shape[b.shape.length - 1];
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  // Offsets are read after makeOutput; heap growth moves no tensor.
  const outOffset = wasmData(backend, out).memoryOffset;
  const as = stackOf(backend, a);
  const bs = stackOf(backend, b);
  if (bs.count === 1) {
    // One right matrix for all: a's matrices stacked as rows make one [count*m, k] x [k, n] product.
    callWasm(backend, { ...as, count: 1, rows: as.count * as.rows }, bs, outOffset, false, false);
    return out;
  }
  const aIndex = broadcastIndex(batchShape, a.shape.slice(0, -2));
  const bIndex = broadcastIndex(batchShape, b.shape.slice(0, -2));
  for (let i = 0; i < aIndex.length; i++) {
    callWasm(backend, matrixAt(as, aIndex[i]), matrixAt(bs, bIndex[i]), outOffset + i * m * n * F32_BYTES, false, false);
  }
  return out;
}

/** x[..., r, c] -> [..., c, r] by the wasm backend's own Transpose kernel (a fresh tensor the caller frees). */
function transposeLast2(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
  const transpose = getKernel(Transpose, 'wasm');
  if (transpose === undefined) throw new Error('the wasm backend has no Transpose kernel registered');
  return transpose.kernelFunc({ inputs: { x }, backend: backend as never, attrs: { perm } }) as TensorInfo;
}

/** `transposeLast2(x)`, recorded in `temps` for the caller to free. */
function transposedTemp(backend: WasmBackend, x: TensorInfo, temps: TensorInfo[]): TensorInfo {
  const t = transposeLast2(backend, x);
  temps.push(t);
  return t;
}

function zeros(backend: WasmBackend, shape: number[]): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  backend.typedArrayFromHeap(out).fill(0); // recycled heap memory
  return out;
}

interface Geometry {
  m: number;
  k: number;
  n: number;
  batchShape: number[]; // the broadcast of both operands' batch dims
}

function geometry(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): Geometry {
  const ra = a.shape.length;
  const rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kB = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  util.assert(k === kB, () =>
    `Error in matMul: inner shapes (${k}) and (${kB}) of Tensors with shapes ${a.shape} and ${b.shape} ` +
    `and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  const batchShape = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { m, k, n, batchShape };
}

/**
 * XNNPACK wants both operands untransposed and packs its right operand on every call. Either transpose what is stored transposed (C = op(A) op(B)), or compute Cᵀ = op(B)ᵀ op(A)ᵀ
 * from the operands as they lie and transpose the product; whichever moves fewer floats. For a Linear on few
 * rows (x Wᵀ while decoding) the second packs x instead of W: ~15x faster.
 */
function xnnBatchMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, g: Geometry): TensorInfo {
  const { m, k, n } = g;
  const direct = (transposeA ? m * k : 0) + (transposeB ? k * n : 0) + PACK_COST * k * n;
  const swapped = (transposeB ? 0 : k * n) + (transposeA ? 0 : m * k) + m * n + PACK_COST * k * m;
  const swap = swapped < direct;
  const temps: TensorInfo[] = [];
  const transposedIf = (x: TensorInfo, flag: boolean) => (flag ? transposedTemp(backend, x, temps) : x);
  try {
    if (!swap) {
      return plainBatchMatMul(backend, transposedIf(a, transposeA), transposedIf(b, transposeB), g.batchShape);
    }
    const productT = plainBatchMatMul(backend, transposedIf(b, !transposeB), transposedIf(a, !transposeA), g.batchShape);
    temps.push(productT); // [..., n, m]
    return transposeLast2(backend, productT);
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

// The SIMD kernel reads Aᵀ (stored [k, m]) a column of 4 floats per row of k: at 4 KB or more between rows,
// every row lands in the same L1 set and the reads thrash (measured: [2048,1024]ᵀ x [2048,128] at 12
// GFLOP/s against ~20 for the other products of a step). Such a product is computed transposed (Cᵀ =
// Bᵀ·A, B read as columns) when B's rows are short, else A is transposed first.
const MAX_COLUMN_STRIDE_BYTES = 4096;

let simdEnabled = true;

/** Turns the SIMD kernel off (XNNPACK and the module's loop only) or back on: for before/after benchmarks. */
export function useSimdMatMul(enabled: boolean): void {
  simdEnabled = enabled;
}

/**
 * C = op(A) op(B) on the project's SIMD kernel (./simd-gemm.ts), which reads A as stored or transposed
 * and B untransposed (copying it into strips block by block); a transposed B is transposed first. Null
 * where the kernel does not apply: no WebAssembly SIMD, or m, n off its tile multiples.
 */
function simdBatchMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, g: Geometry): TensorInfo | null {
  const memory = simdEnabled ? heapMemory(backend) : null;
  const kernels = memory === null ? null : simdGemm(memory);
  if (kernels === null || g.m % TILE_ROWS !== 0 || g.n % TILE_COLS !== 0) return null;
  const { m, k, n } = g;
  if (transposeA && m * F32_BYTES >= MAX_COLUMN_STRIDE_BYTES && n < k && (transposeB || n * F32_BYTES < MAX_COLUMN_STRIDE_BYTES)) {
    // Cᵀ = op(B)ᵀ·A with A as stored [k, m], then transpose the product: moves m·n floats instead of A's m·k
    const productT = simdBatchMatMul(backend, b, a, !transposeB, false, { m: n, k, n: m, batchShape: g.batchShape });
    if (productT !== null) {
      try {
        return transposeLast2(backend, productT);
      } finally {
        backend.disposeData(productT.dataId);
      }
    }
  }
  const temps: TensorInfo[] = [];
  try {
    const readsColumns = transposeA && m * F32_BYTES < MAX_COLUMN_STRIDE_BYTES;
    const left = transposeA && !readsColumns ? transposedTemp(backend, a, temps) : a; // [..., k, m] if readsColumns, else [..., m, k]
    const right = transposeB ? transposedTemp(backend, b, temps) : b; // [..., k, n]
    const scratch = backend.makeOutput([scratchFloats(k, n)], 'float32');
    temps.push(scratch);
    const out = backend.makeOutput([...g.batchShape, m, n], 'float32');
    // Offsets are read after every allocation; heap growth moves no tensor.
    const ls = stackOf(backend, left);
    const rs = stackOf(backend, right);
    const outOffset = wasmData(backend, out).memoryOffset;
    const scratchOffset = wasmData(backend, scratch).memoryOffset;
    const [ai, ak] = readsColumns ? [F32_BYTES, m * F32_BYTES] : [k * F32_BYTES, F32_BYTES];
    const product = (aOffset: number, bOffset: number, cOffset: number, rows: number) =>
      gemm(kernels, { a: aOffset, b: bOffset, c: cOffset, m: rows, n, k, ai, ak, bk: n * F32_BYTES, bj: F32_BYTES, cs: n * F32_BYTES, accumulate: false }, scratchOffset);
    if (rs.count === 1 && !readsColumns) {
      product(ls.offset, rs.offset, outOffset, ls.count * m); // one right matrix for all: a's matrices stacked as rows
      return out;
    }
    const aIndex = broadcastIndex(g.batchShape, left.shape.slice(0, -2));
    const bIndex = broadcastIndex(g.batchShape, right.shape.slice(0, -2));
    for (let i = 0; i < aIndex.length; i++) {
      product(ls.offset + aIndex[i] * m * k * F32_BYTES, rs.offset + bIndex[i] * k * n * F32_BYTES, outOffset + i * m * n * F32_BYTES, m);
    }
    return out;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/**
 * C = op(A) op(B) on the native engine's kernel, reading both operands where they lie: op(A)(i, p) at
 * A[i·k + p] or, transposed, A[p·m + i]; likewise B. Null when the engine is off or the heap out of reach.
 */
function nativeBatchMatMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean, g: Geometry): TensorInfo | null {
  const addon = nativeAddon();
  const memory = addon === null ? null : heapMemory(backend);
  if (addon === null || memory === null) return null;
  const { m, k, n } = g;
  if (!(memory.buffer instanceof ArrayBuffer)) return null; // a threaded build's shared heap: not for the addon
  const out = backend.makeOutput([...g.batchShape, m, n], 'float32');
  const heap = memory.buffer as ArrayBuffer; // after the allocation: growing the heap replaces the buffer
  const aOffset = wasmData(backend, a).memoryOffset;
  const bOffset = wasmData(backend, b).memoryOffset;
  const outOffset = wasmData(backend, out).memoryOffset;
  const [aRs, aCs] = transposeA ? [1, m] : [k, 1];
  const [bRs, bCs] = transposeB ? [1, k] : [n, 1];
  const aCount = util.sizeFromShape(a.shape.slice(0, -2));
  const bCount = util.sizeFromShape(b.shape.slice(0, -2));
  const batch = util.sizeFromShape(g.batchShape);
  if (bCount === 1 && !transposeA) {
    // One right matrix for all: a's matrices stacked as rows make one [count·m, k] x [k, n] product.
    addon.matmul(heap, aOffset, bOffset, outOffset, aCount * m, n, k, aRs, aCs, bRs, bCs, 1, null, null, 0, 0, false);
    return out;
  }
  const same = aCount === batch && bCount === batch;
  const aIndex = same ? null : broadcastIndex(g.batchShape, a.shape.slice(0, -2));
  const bIndex = same ? null : broadcastIndex(g.batchShape, b.shape.slice(0, -2));
  addon.matmul(heap, aOffset, bOffset, outOffset, m, n, k, aRs, aCs, bRs, bCs, batch, aIndex, bIndex, m * k, k * n, false);
  return out;
}

/** C = op(A) op(B) for op = identity or transpose of the last two axes, with TF's batch broadcasting. */
function batchMatMul(args: {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: unknown;
  attrs: { transposeA: boolean; transposeB: boolean };
}): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { a, b } = args.inputs;
  const { transposeA, transposeB } = args.attrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new Error(`BatchMatMul on wasm supports float32 only, got ${a.dtype} x ${b.dtype}`);
  }
  const g = geometry(a, b, transposeA, transposeB);
  const outShape = [...g.batchShape, g.m, g.n];
  if (util.sizeFromShape(outShape) === 0 || g.k === 0) return zeros(backend, outShape);
  const native = nativeBatchMatMul(backend, a, b, transposeA, transposeB, g);
  if (native !== null) return native;
  const simd = simdBatchMatMul(backend, a, b, transposeA, transposeB, g);
  if (simd !== null) return simd;
  const aCount = util.sizeFromShape(a.shape.slice(0, -2));
  const bCount = util.sizeFromShape(b.shape.slice(0, -2));
  // The module's loop broadcasts only a whole side of batch 1 ([2,1] x [3] it gets wrong).
  if (g.m * g.k * g.n < SMALL_MATRIX_MACS && (aCount === bCount || aCount === 1 || bCount === 1)) {
    const out = backend.makeOutput(outShape, 'float32');
    callWasm(backend, stackOf(backend, a), stackOf(backend, b), wasmData(backend, out).memoryOffset, transposeA, transposeB);
    return out;
  }
  return xnnBatchMatMul(backend, a, b, transposeA, transposeB, g);
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as KernelFunc,
};

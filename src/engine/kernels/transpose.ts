// Transpose for the wasm backend: large matrices (the last two axes swapped) in two cache-friendly
// passes of the stock kernel. The stock kernel (tfjs-backend-wasm 4.22, transpose_impl.cc) walks a
// 2,048×512 matrix with a 2 KB read stride and an 8 KB write stride: ~9.5 ms on a 2-core EPYC. Cut
// into bands of b rows, [R, C] = [R/b, b, C] → [R/b, C, b] (each band small enough for the cache)
// → [C, R/b, b] (moving whole runs of b floats) = [C, R]: ~2.6 ms. The products of a training step
// transpose such matrices for every weight gradient. Every other permutation is the stock kernel.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { Transpose, getKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm'; // registers the stock Transpose this one builds on
import { asWasmBackend, wasmData } from './wasm-backend.js';

const stock = getKernel(Transpose, 'wasm');
if (stock === undefined) throw new Error('the wasm backend has no Transpose kernel registered');
/** The stock kernel, for the benchmark's before/after. */
export const stockTranspose = stock;

// Measured (node dist/bench/transpose.js, 2-core EPYC): the two passes win from 16 K floats per
// matrix (64 attention matrices of 128×128: 2.28 → 1.85 ms) when rows are at least 64 floats wide
// (narrower ones do not: 64 of 128×32 lose with either band); bands of 64 or 32 rows are fastest.
const MIN_FLOATS = 1 << 14;
const MIN_COLS = 64;
const BANDS = [64, 32] as const;

interface TransposeArgs {
  inputs: { x: TensorInfo };
  attrs: { perm: number[] };
  backend: unknown;
}

/** Whether `perm` keeps every axis but the last two, which it swaps. */
function swapsLastTwo(perm: readonly number[]): boolean {
  const n = perm.length;
  return n >= 2 && perm[n - 2] === n - 1 && perm[n - 1] === n - 2 && perm.slice(0, -2).every((p, i) => p === i);
}

/** The band height for an [R, C] matrix, or 0 when the stock kernel should do it. */
export function bandRows(rows: number, cols: number): number {
  if (rows * cols < MIN_FLOATS || cols < MIN_COLS) return 0;
  return BANDS.find((b) => rows % b === 0 && rows >= 2 * b) ?? 0;
}

function transpose(args: TransposeArgs): TensorInfo {
  const { x } = args.inputs;
  const { perm } = args.attrs;
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const b = swapsLastTwo(perm) && (x.dtype === 'float32' || x.dtype === 'int32') ? bandRows(rows, cols) : 0;
  if (b === 0) return stockTranspose.kernelFunc(args as never) as TensorInfo;
  const backend = asWasmBackend(args.backend);
  const lead = x.shape.slice(0, -2);
  const L = lead.length;
  const axes = lead.map((_, i) => i);
  const run = (input: TensorInfo, p: number[]) => stockTranspose.kernelFunc({ inputs: { x: input }, backend: args.backend, attrs: { perm: p } } as never) as TensorInfo;
  // [..., R/b, b, C] → [..., R/b, C, b]: each band transposed on its own
  const banded = run({ ...x, shape: [...lead, rows / b, b, cols] }, [...axes, L, L + 2, L + 1]);
  try {
    // [..., R/b, C, b] → [..., C, R/b, b], which is [..., C, R]
    const out = run(banded, [...axes, L + 1, L, L + 2]);
    const shape = [...lead, cols, rows];
    wasmData(backend, out).shape = shape;
    return { dataId: out.dataId, shape, dtype: out.dtype };
  } finally {
    backend.disposeData(banded.dataId);
  }
}

export const transposeConfig: KernelConfig = { kernelName: Transpose, backendName: 'wasm', kernelFunc: transpose as unknown as KernelFunc, setupFunc: stockTranspose.setupFunc };

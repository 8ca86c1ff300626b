// The native engine's products with frozen weights (native/src/frozen.cc): kernels of the wasm backend
// whose only tensor input is the activation, the weight named by a handle into ../frozen-store.ts (its
// bytes outside the wasm heap, converted to float32 strip by strip while the GEMM packs B).
//   LoraproFrozenMatMul {x} {handle, mode}: mode 0 y[n, out] = x[n, in]·Wᵀ, mode 1 dx[n, in] = dy[n, out]·W
//   LoraproFrozenGather {ids} {handle}:     out[i] = W[ids[i]] (embedding rows)
// The matmul's gradient is the same kernel in the other mode and saves nothing but the handle (an
// attribute): the weight is frozen, so there is no weight gradient. The gather has none (ids are ints).
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import { engine, registerGradient } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { frozenData } from '../frozen-store.js';
import { nativeHeap } from './native-ops.js';
import { asWasmBackend, wasmData } from './wasm-backend.js';

export const FROZEN_MATMUL = 'LoraproFrozenMatMul';
export const FROZEN_GATHER = 'LoraproFrozenGather';

function heapOf(backend: unknown, kernel: string) {
  const n = nativeHeap(asWasmBackend(backend));
  if (n === null) throw new Error(`${kernel} needs the native engine loaded and the wasm heap in reach`);
  return n;
}

function frozenMatMul(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: { handle: number; mode: number } }): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs;
  const { handle, mode } = args.attrs;
  const w = frozenData(handle);
  const [inner, width] = mode === 0 ? [w.cols, w.rows] : [w.rows, w.cols];
  if (x.dtype !== 'float32' || x.shape.length !== 2 || x.shape[1] !== inner) {
    throw new Error(`${FROZEN_MATMUL}: x must be float32 [n, ${inner}] for a [${w.rows}, ${w.cols}] weight in mode ${mode}, got ${x.dtype} [${x.shape}]`);
  }
  const n = x.shape[0];
  const out = backend.makeOutput([n, width], 'float32');
  const { addon, heap } = heapOf(backend, FROZEN_MATMUL); // after the allocation: growing the heap replaces the buffer
  addon.frozenMatmul(heap, wasmData(backend, x).memoryOffset, wasmData(backend, out).memoryOffset, n, w.bytes, w.scales, w.code, w.rows, w.cols, mode);
  return out;
}

function frozenGather(args: { inputs: { ids: TensorInfo }; backend: unknown; attrs: { handle: number } }): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { ids } = args.inputs;
  const w = frozenData(args.attrs.handle);
  if (ids.dtype !== 'int32') throw new Error(`${FROZEN_GATHER}: ids must be int32, got ${ids.dtype}`);
  const count = ids.shape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...ids.shape, w.cols], 'float32');
  const { addon, heap } = heapOf(backend, FROZEN_GATHER);
  addon.frozenGather(heap, wasmData(backend, ids).memoryOffset, wasmData(backend, out).memoryOffset, count, w.bytes, w.scales, w.code, w.rows, w.cols);
  return out;
}

export const frozenKernelConfigs: KernelConfig[] = [
  { kernelName: FROZEN_MATMUL, backendName: 'wasm', kernelFunc: frozenMatMul as unknown as KernelFunc },
  { kernelName: FROZEN_GATHER, backendName: 'wasm', kernelFunc: frozenGather as unknown as KernelFunc },
];

registerGradient({
  kernelName: FROZEN_MATMUL,
  inputsToSave: [],
  gradFunc: (dy: Tensor | Tensor[], _saved: Tensor[], attrs: NamedAttrMap) => {
    const { handle, mode } = attrs as unknown as { handle: number; mode: number };
    return { x: () => engine().runKernel(FROZEN_MATMUL, { x: dy as Tensor }, { handle, mode: 1 - mode }) as Tensor };
  },
});

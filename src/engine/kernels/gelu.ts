// gelu_new (GPT-2's activation) as two fused passes on the wasm heap, in WebAssembly SIMD (./wasm-asm.ts).
// Written op by op, its forward takes seven passes over the [B, T, 4d] activations and its gradient
// nine, each reading and writing a megabyte-sized tensor (`node dist/bench/train.js --profile` lists a
// step's kernels). Fused: the sigmoid's argument in one pass (the stock Sigmoid and Multiply do the
// rest) and the gradient in one.
//
//   2u = x·(2√(2/π) + 2√(2/π)·0.044715·x²),  s = σ(2u),  gelu_new(x) = x·s
//   d gelu_new / dx = s + x·s·(1 − s)·(2√(2/π) + 6√(2/π)·0.044715·x²)
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { assembleModule, moduleCache, op, type WasmFunction } from './wasm-asm.js';
import { asWasmBackend, heapMemory, wasmData, type WasmBackend } from './wasm-backend.js';

export const GELU_NEW_ARG = 'LoraproGeluNewArg';
export const GELU_NEW_GRAD = 'LoraproGeluNewGrad';

const K = Math.sqrt(2 / Math.PI);
const CUBIC = 0.044715;
/** 2u = x·(C1 + C2·x²); its derivative is C1 + 3·C2·x². */
export const GELU_C1 = 2 * K;
export const GELU_C2 = 2 * K * CUBIC;

const { get, set, i32, add, sub, loop, end, brIf, vLoad, vStore, f32x4, f32x4Add, f32x4Sub, f32x4Mul } = op;

/** A loop over `count` ≥ 1 vectors of 4 floats, every pointer parameter advanced 16 bytes a turn. */
function vectorLoop(name: string, pointers: number, v128Locals: number, body: number[][]): WasmFunction {
  const count = pointers;
  const code = [
    loop,
    ...body,
    ...Array.from({ length: pointers }, (_, p) => [get(p), i32(16), add, set(p)]).flat(),
    get(count), i32(1), sub, set(count), get(count), brIf(0),
    end,
  ].flat();
  return { name, params: pointers + 1, i32Locals: 0, v128Locals, code };
}

/** arg(x, out, count): out = x·(C1 + C2·x²). */
function argFunction(): WasmFunction {
  const [x, out] = [0, 1];
  const v = 3;
  return vectorLoop('arg', 2, 1, [
    get(x), vLoad(0), set(v),
    get(out), get(v), get(v), f32x4Mul, f32x4(GELU_C2), f32x4Mul, f32x4(GELU_C1), f32x4Add, get(v), f32x4Mul, vStore(0),
  ]);
}

/** grad(x, s, dy, out, count): out = dy·(s + x·s·(1 − s)·(C1 + 3·C2·x²)). */
function gradFunction(): WasmFunction {
  const [x, s, dy, out] = [0, 1, 2, 3];
  const [xv, sv] = [5, 6];
  return vectorLoop('grad', 4, 2, [
    get(x), vLoad(0), set(xv),
    get(s), vLoad(0), set(sv),
    get(out),
    get(dy), vLoad(0),
    get(sv),
    get(xv),
    get(sv), f32x4(1), get(sv), f32x4Sub, f32x4Mul, // s·(1 − s)
    get(xv), get(xv), f32x4Mul, f32x4(3 * GELU_C2), f32x4Mul, f32x4(GELU_C1), f32x4Add, // C1 + 3·C2·x²
    f32x4Mul, f32x4Mul, f32x4Add, f32x4Mul, // dy·(s + x·(s(1 − s)·(…)))
    vStore(0),
  ]);
}

interface GeluKernels {
  arg(x: number, out: number, count: number): void;
  grad(x: number, s: number, dy: number, out: number, count: number): void;
}

export const geluModuleBytes = (): Uint8Array<ArrayBuffer> => assembleModule([argFunction(), gradFunction()]);
const bind = moduleCache<GeluKernels>(geluModuleBytes);

type Views = (Float32Array | Int32Array | Uint8Array)[];
const argAt = ([x]: Views, i: number) => x[i] * (GELU_C1 + GELU_C2 * x[i] * x[i]);
const gradAt = ([x, s, dy]: Views, i: number) => dy[i] * (s[i] + x[i] * s[i] * (1 - s[i]) * (GELU_C1 + 3 * GELU_C2 * x[i] * x[i]));

/**
 * out = f(inputs) elementwise: the SIMD function over whole vectors of 4, `scalar` over the last 0–3
 * elements (or all of them where SIMD is missing; engine/fused.ts then takes the op-by-op route anyway).
 */
function elementwise(backend: WasmBackend, inputs: TensorInfo[], simd: ((k: GeluKernels, ptrs: number[], out: number, count: number) => void), scalar: (views: Views, i: number) => number): TensorInfo {
  for (const t of inputs) {
    if (t.dtype !== 'float32') throw new Error(`gelu_new kernels take float32, got ${t.dtype}`);
    if (t.shape.join() !== inputs[0].shape.join()) throw new Error(`gelu_new kernels take operands of one shape, got [${inputs[0].shape}] and [${t.shape}]`);
  }
  const out = backend.makeOutput(inputs[0].shape, 'float32');
  const size = inputs[0].shape.reduce((a, b) => a * b, 1);
  const memory = heapMemory(backend);
  const kernels = memory === null ? null : bind(memory);
  const vectors = kernels === null ? 0 : size >> 2;
  if (kernels !== null && vectors > 0) {
    simd(kernels, inputs.map((t) => wasmData(backend, t).memoryOffset), wasmData(backend, out).memoryOffset, vectors);
  }
  const views = inputs.map((t) => backend.typedArrayFromHeap(t));
  const o = backend.typedArrayFromHeap(out);
  for (let i = 4 * vectors; i < size; i++) o[i] = scalar(views, i);
  return out;
}

function geluArg(args: { inputs: { x: TensorInfo }; backend: unknown }): TensorInfo {
  const { x } = args.inputs;
  return elementwise(asWasmBackend(args.backend), [x], (k, [p], out, n) => k.arg(p, out, n), argAt);
}

function geluGrad(args: { inputs: { x: TensorInfo; s: TensorInfo; dy: TensorInfo }; backend: unknown }): TensorInfo {
  const { x, s, dy } = args.inputs;
  return elementwise(asWasmBackend(args.backend), [x, s, dy], (k, [px, ps, pdy], out, n) => k.grad(px, ps, pdy, out, n), gradAt);
}

export const geluArgConfig: KernelConfig = { kernelName: GELU_NEW_ARG, backendName: 'wasm', kernelFunc: geluArg as unknown as KernelFunc };
export const geluGradConfig: KernelConfig = { kernelName: GELU_NEW_GRAD, backendName: 'wasm', kernelFunc: geluGrad as unknown as KernelFunc };

// The native engine's kernels beside its BatchMatMul (native/src/ops.cc), registered on the wasm backend
// and working on its heap in place: a row softmax with an additive bias broadcast over heads (attention's
// mask) and optionally each row's logsumexp (cross-entropy), its backward pass, the AdamW update, and
// Llama's gated activation silu(gate)·up forward and backward, and gelu_new's forward with its σ.
// Op by op, each is 3–13 passes over its tensors and as many kernel calls; here one pass or two, and a
// large one split over the native threads. They run only where the engine is loaded: engine/fused.ts
// checks `nativeOpsOn()` and takes the op-by-op route otherwise, so the wasm and cpu paths are untouched.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one to register it.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { nativeAddon, type NativeAddon } from '../native.js';
import { asWasmBackend, heapMemory, wasmData, type WasmBackend } from './wasm-backend.js';

export const NATIVE_SOFTMAX = 'LoraproNativeSoftmax';
export const NATIVE_SOFTMAX_GRAD = 'LoraproNativeSoftmaxGrad';
export const NATIVE_ADAM = 'LoraproNativeAdam';
export const NATIVE_ADAM_HOST = 'LoraproNativeAdamHost';
export const NATIVE_SWIGLU = 'LoraproNativeSwiglu';
export const NATIVE_SWIGLU_GRAD = 'LoraproNativeSwigluGrad';
export const NATIVE_GELU_NEW = 'LoraproNativeGeluNew';


let opsEnabled = true;

/** Switches these kernels off (the native BatchMatMul stays) or back on: for before/after benchmarks. */
export function useNativeOps(on: boolean): void {
  opsEnabled = on;
}

export function nativeOpsEnabled(): boolean {
  return opsEnabled;
}

/** The addon and the backend's heap as an ArrayBuffer, or null (engine off, or a shared or hidden heap). */
export function nativeHeap(backend: WasmBackend): { addon: NativeAddon; heap: ArrayBuffer } | null {
  const addon = nativeAddon();
  const memory = addon === null ? null : heapMemory(backend);
  if (addon === null || memory === null || !(memory.buffer instanceof ArrayBuffer)) return null;
  return { addon, heap: memory.buffer };
}

function native(backend: WasmBackend, kernel: string): { addon: NativeAddon; heap: ArrayBuffer } {
  const n = nativeHeap(backend);
  if (n === null) throw new Error(`${kernel} needs the native engine loaded and the wasm heap in reach`);
  return n;
}

const offset = (backend: WasmBackend, t: TensorInfo) => wasmData(backend, t).memoryOffset;

function checkFloat(kernel: string, name: string, t: TensorInfo): void {
  if (t.dtype !== 'float32') throw new Error(`${kernel}: ${name} must be float32, got ${t.dtype}`);
}

/**
 * How a bias broadcasts over x's rows: bias [Bb, 1, T, S] (Bb = 1 or B) over x [B, nH, T, S] repeats its
 * T rows for each of x's nH heads (period T, group nH·T), for every batch row or for each its own.
 */
export function biasLayout(x: readonly number[], bias: readonly number[]): { period: number; group: number; groups: number } | null {
  if (x.length !== 4 || bias.length !== 4) return null;
  const [B, nH, T, S] = x;
  const [Bb, one, Tb, Sb] = bias;
  if (one !== 1 || Tb !== T || Sb !== S || (Bb !== 1 && Bb !== B)) return null;
  return { period: T, group: nH * T, groups: Bb };
}

function softmax(args: { inputs: { x: TensorInfo; bias?: TensorInfo }; backend: unknown; attrs: { withLse: boolean } }): TensorInfo | TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { x, bias } = args.inputs;
  checkFloat(NATIVE_SOFTMAX, 'x', x);
  const cols = x.shape[x.shape.length - 1];
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  let layout = { period: 1, group: 1, groups: 1 };
  if (bias !== undefined) {
    checkFloat(NATIVE_SOFTMAX, 'bias', bias);
    const l = biasLayout(x.shape, bias.shape);
    if (l === null) throw new Error(`${NATIVE_SOFTMAX}: bias [${bias.shape}] does not broadcast as [B or 1, 1, T, S] over x [${x.shape}]`);
    layout = l;
  }
  const y = backend.makeOutput(x.shape, 'float32');
  const lse = args.attrs.withLse ? backend.makeOutput(x.shape.slice(0, -1), 'float32') : null;
  if (rows === 0 || cols === 0) return lse === null ? y : [y, lse];
  const { addon, heap } = native(backend, NATIVE_SOFTMAX); // after the allocations: growth replaces the buffer
  addon.softmax(heap, offset(backend, x), bias === undefined ? -1 : offset(backend, bias), offset(backend, y), lse === null ? -1 : offset(backend, lse), rows, cols, layout.period, layout.group, layout.groups);
  return lse === null ? y : [y, lse];
}

function softmaxGrad(args: { inputs: { y: TensorInfo; dy: TensorInfo }; backend: unknown }): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { y, dy } = args.inputs;
  checkFloat(NATIVE_SOFTMAX_GRAD, 'y', y);
  checkFloat(NATIVE_SOFTMAX_GRAD, 'dy', dy);
  if (y.shape.join() !== dy.shape.join()) throw new Error(`${NATIVE_SOFTMAX_GRAD}: y [${y.shape}] and dy [${dy.shape}] must have one shape`);
  const cols = y.shape[y.shape.length - 1];
  const rows = y.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const dx = backend.makeOutput(y.shape, 'float32');
  if (rows === 0 || cols === 0) return dx;
  const { addon, heap } = native(backend, NATIVE_SOFTMAX_GRAD);
  addon.softmaxGrad(heap, offset(backend, y), offset(backend, dy), offset(backend, dx), rows, cols);
  return dx;
}

/** AdamW's constants for one step (optim/adamw.ts); `decay` = 1 − lr·weightDecay. */
export interface AdamAttrs {
  gScale: number;
  beta1: number;
  beta2: number;
  eps: number;
  bc1: number;
  sqrtBc2: number;
  lr: number;
  decay: number;
}

function adam(args: { inputs: { p?: TensorInfo; g: TensorInfo; m: TensorInfo; v: TensorInfo }; backend: unknown; attrs: AdamAttrs }): TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { p, g, m, v } = args.inputs;
  const n = sameShapeFloats(NATIVE_ADAM, { g, m, v, ...(p ? { p } : {}) });
  const out = backend.makeOutput(g.shape, 'float32');
  const m1 = backend.makeOutput(g.shape, 'float32');
  const v1 = backend.makeOutput(g.shape, 'float32');
  if (n === 0) return [out, m1, v1];
  const { addon, heap } = native(backend, NATIVE_ADAM);
  const a = args.attrs;
  addon.adam(
    heap, p ? offset(backend, p) : -1, offset(backend, g), offset(backend, m), offset(backend, v), offset(backend, out), offset(backend, m1), offset(backend, v1), n,
    a.gScale, a.beta1, a.beta2, a.eps, a.bc1, a.sqrtBc2, a.lr, a.decay,
  );
  return [out, m1, v1];
}

/** Adam's moments outside the heap for NATIVE_ADAM_HOST: Float32Arrays updated in place (no lr or decay: it returns the direction). */
export interface HostAdamAttrs extends Omit<AdamAttrs, 'lr' | 'decay'> {
  m: Float32Array;
  v: Float32Array;
}

function adamHost(args: { inputs: { g: TensorInfo }; backend: unknown; attrs: HostAdamAttrs }): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { g } = args.inputs;
  const n = sameShapeFloats(NATIVE_ADAM_HOST, { g });
  const a = args.attrs;
  if (a.m.length !== n || a.v.length !== n) throw new Error(`${NATIVE_ADAM_HOST}: moments of ${a.m.length} and ${a.v.length} floats for a gradient of ${n}`);
  const out = backend.makeOutput(g.shape, 'float32');
  if (n === 0) return out;
  const { addon, heap } = native(backend, NATIVE_ADAM_HOST);
  if (addon.adamHost === undefined) throw new Error(`${NATIVE_ADAM_HOST}: this build of the native engine has no adamHost; rebuild it with node scripts/build-native.mjs`);
  addon.adamHost(heap, offset(backend, g), offset(backend, out), a.m, a.v, n, a.gScale, a.beta1, a.beta2, a.eps, a.bc1, a.sqrtBc2);
  return out;
}

function sameShapeFloats(kernel: string, named: Record<string, TensorInfo>): number {
  const first = Object.values(named)[0];
  for (const [name, t] of Object.entries(named)) {
    checkFloat(kernel, name, t);
    if (t.shape.join() !== first.shape.join()) throw new Error(`${kernel}: ${name} [${t.shape}] must have the shape of ${Object.keys(named)[0]} [${first.shape}]`);
  }
  return first.shape.reduce((a, b) => a * b, 1);
}

function swiglu(args: { inputs: { gate: TensorInfo; up: TensorInfo }; backend: unknown }): TensorInfo {
  const backend = asWasmBackend(args.backend);
  const { gate, up } = args.inputs;
  const n = sameShapeFloats(NATIVE_SWIGLU, { gate, up });
  const h = backend.makeOutput(gate.shape, 'float32');
  if (n === 0) return h;
  const { addon, heap } = native(backend, NATIVE_SWIGLU);
  addon.swiglu(heap, offset(backend, gate), offset(backend, up), offset(backend, h), n);
  return h;
}

function swigluGrad(args: { inputs: { gate: TensorInfo; up: TensorInfo; dh: TensorInfo }; backend: unknown }): TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { gate, up, dh } = args.inputs;
  const n = sameShapeFloats(NATIVE_SWIGLU_GRAD, { gate, up, dh });
  const dg = backend.makeOutput(gate.shape, 'float32');
  const du = backend.makeOutput(gate.shape, 'float32');
  if (n === 0) return [dg, du];
  const { addon, heap } = native(backend, NATIVE_SWIGLU_GRAD);
  addon.swigluGrad(heap, offset(backend, gate), offset(backend, up), offset(backend, dh), offset(backend, dg), offset(backend, du), n);
  return [dg, du];
}

function geluNew(args: { inputs: { x: TensorInfo }; backend: unknown; attrs: { c1: number; c2: number } }): TensorInfo[] {
  const backend = asWasmBackend(args.backend);
  const { x } = args.inputs;
  const n = sameShapeFloats(NATIVE_GELU_NEW, { x });
  const y = backend.makeOutput(x.shape, 'float32');
  const s = backend.makeOutput(x.shape, 'float32');
  if (n === 0) return [y, s];
  const { addon, heap } = native(backend, NATIVE_GELU_NEW);
  addon.geluNew(heap, offset(backend, x), offset(backend, y), offset(backend, s), n, args.attrs.c1, args.attrs.c2);
  return [y, s];
}

export const nativeOpConfigs: KernelConfig[] = [
  { kernelName: NATIVE_SOFTMAX, backendName: 'wasm', kernelFunc: softmax as unknown as KernelFunc },
  { kernelName: NATIVE_SOFTMAX_GRAD, backendName: 'wasm', kernelFunc: softmaxGrad as unknown as KernelFunc },
  { kernelName: NATIVE_ADAM, backendName: 'wasm', kernelFunc: adam as unknown as KernelFunc },
  { kernelName: NATIVE_ADAM_HOST, backendName: 'wasm', kernelFunc: adamHost as unknown as KernelFunc },
  { kernelName: NATIVE_SWIGLU, backendName: 'wasm', kernelFunc: swiglu as unknown as KernelFunc },
  { kernelName: NATIVE_SWIGLU_GRAD, backendName: 'wasm', kernelFunc: swigluGrad as unknown as KernelFunc },
  { kernelName: NATIVE_GELU_NEW, backendName: 'wasm', kernelFunc: geluNew as unknown as KernelFunc },
];

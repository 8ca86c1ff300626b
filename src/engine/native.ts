// The optional native engine: C++ kernels (native/, built by node-gyp when the package installs) that
// work in place on the wasm backend's heap, so every other kernel, the memory and all of autodiff stay
// the wasm backend's. Node only; in a browser, or when the build failed or the binary does not load,
// nothing here is used and the wasm kernels run instead.
//
// No import of node:* modules: the loader reaches Node's `require` through process.getBuiltinModule
// (Node >= 20.16), so this file stays safe to bundle for the browser.

/** The addon's functions (native/src/addon.cc). */
export interface NativeAddon {
  info(): NativeInfo;
  /** matmul 'bf16' | 'f32' | '' (keep); absent from builds before it. */
  configure(threads: number, isa: string, matmul?: string): NativeInfo;
  matmul(
    heap: ArrayBuffer, aOffset: number, bOffset: number, cOffset: number, m: number, n: number, k: number,
    aRowStride: number, aColStride: number, bRowStride: number, bColStride: number,
    batch: number, aIndex: Int32Array | null, bIndex: Int32Array | null, aMatrixStride: number, bMatrixStride: number, accumulate: boolean,
  ): void;
  /** y = softmax(x + bias) per row of `cols`; bias row ((r / group) % biasGroups)·period + r % period; -1 offsets for no bias / no lse. */
  softmax(heap: ArrayBuffer, xOffset: number, biasOffset: number, yOffset: number, lseOffset: number, rows: number, cols: number, period: number, group: number, biasGroups: number): void;
  /** dx = y·(dy − Σ dy·y) per row. */
  softmaxGrad(heap: ArrayBuffer, yOffset: number, dyOffset: number, dxOffset: number, rows: number, cols: number): void;
  /** One AdamW step on n floats (native/src/ops.h); pOffset -1 writes the direction instead of p'. */
  adam(
    heap: ArrayBuffer, pOffset: number, gOffset: number, mOffset: number, vOffset: number, outOffset: number, mOutOffset: number, vOutOffset: number, n: number,
    gScale: number, beta1: number, beta2: number, eps: number, bc1: number, sqrtBc2: number, lr: number, decay: number,
  ): void;
  /**
   * The Adam direction of g (on the heap) into out (on the heap), with moments m and v in Float32Arrays
   * outside the heap, updated in place. Absent from builds before it (callers fall back to heap moments).
   */
  adamHost?(heap: ArrayBuffer, gOffset: number, outOffset: number, m: Float32Array, v: Float32Array, n: number, gScale: number, beta1: number, beta2: number, eps: number, bc1: number, sqrtBc2: number): void;
  /** h = silu(g)·u on n floats. */
  swiglu(heap: ArrayBuffer, gOffset: number, uOffset: number, hOffset: number, n: number): void;
  /** dg, du of h = silu(g)·u from dh, on n floats. */
  swigluGrad(heap: ArrayBuffer, gOffset: number, uOffset: number, dhOffset: number, dgOffset: number, duOffset: number, n: number): void;
  /** y = x·s and s = σ(x·(c1 + c2·x²)) (gelu_new) on n floats. */
  geluNew(heap: ArrayBuffer, xOffset: number, yOffset: number, sOffset: number, n: number, c1: number, c2: number): void;
  /** LoRA-Pro's r×r Gram in double: over the rows of two [len, r] arrays (byRows 1) or the columns of two [r, len]. */
  gram(heap: ArrayBuffer, xOffset: number, yOffset: number, len: number, r: number, byRows: number): Float64Array;
  /**
   * A frozen [out, in] weight held outside the heap (bytes in its format, scales for int8 / nf4 / nf4-dq, format
   * as src/quant/formats.ts numbers it): mode 0 y[n, out] = x[n, in]·Wᵀ, mode 1 dx[n, in] = dy[n, out]·W.
   */
  frozenMatmul(heap: ArrayBuffer, xOffset: number, yOffset: number, n: number, weight: ArrayBufferView, scales: Float32Array | null, format: number, out: number, inFeatures: number, mode: number): void;
  /** out[i] = W[ids[i]] as float32 for `count` int32 ids on the heap; ids outside [0, rows) are refused. */
  frozenGather(heap: ArrayBuffer, idsOffset: number, outOffset: number, count: number, weight: ArrayBufferView, scales: Float32Array | null, format: number, rows: number, cols: number): void;
}

export interface NativeInfo {
  isa: 'avx512' | 'avx2' | 'portable';
  threads: number;
  tileRows: number;
  tileCols: number;
  /**
   * The precision of products with a frozen bf16 weight now (native/src/frozen_bf16.h): 'bf16' only when
   * asked for, the CPU has AVX512_BF16 and the AVX-512 kernels run. Absent from builds before it.
   */
  matmul?: MatmulPrecision;
  /** Whether the CPU has AVX512_BF16's dot products. */
  bf16Dot?: boolean;
}

/**
 * Products with frozen bf16 weights: 'f32' (the default) converts the weight to float32 and multiplies
 * in float32; 'bf16' rounds the activations to bf16 and sums bf16 products in float32 (AVX512_BF16),
 * about twice as fast, as PyTorch's CPU autocast does.
 */
export type MatmulPrecision = 'f32' | 'bf16';
export const MATMUL_PRECISIONS: readonly MatmulPrecision[] = ['f32', 'bf16'];

/** Asks for bf16 products at load (`configureNative({ matmul })` changes it later); read by native/src/frozen_bf16.cc. */
export const MATMUL_ENV = 'LORAPRO_MATMUL';

/** Overrides where the binary is looked for (tests use it to simulate a failed build). */
export const NATIVE_PATH_ENV = 'LORAPRO_NATIVE_PATH';

// From dist/engine/native.js (and src/engine/ under ts-node-like runners) up to the package root.
const DEFAULT_BINARY = '../../native/build/Release/lorapro.node';

type Loaded = { addon: NativeAddon; path: string } | { addon: null; reason: string };

let loaded: Loaded | undefined;
let enabled = true;

function env(name: string): string | undefined {
  const value = typeof process !== 'undefined' ? process.env?.[name]?.trim() : undefined;
  return value ? value : undefined;
}

function load(): Loaded {
  const proc = typeof process !== 'undefined' ? (process as { getBuiltinModule?: (id: string) => unknown }) : undefined;
  const moduleApi = proc?.getBuiltinModule?.('node:module') as { createRequire(from: string | URL): (id: string) => unknown } | undefined;
  if (moduleApi === undefined) return { addon: null, reason: 'not running in Node >= 20.16' };
  const path = env(NATIVE_PATH_ENV) ?? decodeURIComponent(new URL(DEFAULT_BINARY, import.meta.url).pathname); // a checkout under a path with spaces
  try {
    const addon = moduleApi.createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.matmul !== 'function') return { addon: null, reason: `${path} is not lorapro's native engine` };
    if (typeof addon.softmax !== 'function' || typeof addon.adam !== 'function' || typeof addon.swiglu !== 'function' || typeof addon.geluNew !== 'function' || typeof addon.gram !== 'function' || typeof addon.frozenMatmul !== 'function' || typeof addon.frozenGather !== 'function') return { addon: null, reason: `${path} is an older build of lorapro's native engine (no softmax, adam, swiglu, geluNew, gram or frozen-weight kernels); rebuild it with node scripts/build-native.mjs` };
    return { addon, path };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    return { addon: null, reason: /Cannot find module/.test(message) ? `${path} is missing (the install's native build failed or was skipped; native/build.log says why)` : message };
  }
}

function state(): Loaded {
  loaded ??= load();
  return loaded;
}

/** The native kernels when loaded and switched on, else null (the wasm kernels run). */
export function nativeAddon(): NativeAddon | null {
  return enabled ? state().addon : null;
}

/** Whether the binary loaded, and why not when it did not. */
export function nativeStatus(): { available: true; path: string; info: NativeInfo } | { available: false; reason: string } {
  const s = state();
  return s.addon === null ? { available: false, reason: s.reason } : { available: true, path: s.path, info: s.addon.info() };
}

/** Switches the native kernels on or off (the wasm backend keeps running either way). */
export function useNativeKernels(on: boolean): void {
  enabled = on;
}

export function nativeKernelsOn(): boolean {
  return nativeAddon() !== null;
}

/**
 * Sets the native kernels' thread count, the precision of frozen bf16 products (`matmul`; without
 * AVX512_BF16 the returned info's matmul stays 'f32') and, for tests, their instruction set.
 *
 * @example configureNative({ matmul: 'bf16' }).matmul // 'bf16' where the CPU has AVX512_BF16
 */
export function configureNative(options: { threads?: number; isa?: NativeInfo['isa']; matmul?: MatmulPrecision }): NativeInfo {
  const addon = state().addon;
  if (addon === null) throw new Error('the native engine is not loaded');
  const { matmul } = options;
  if (matmul !== undefined && !MATMUL_PRECISIONS.includes(matmul)) throw new Error(`configureNative: matmul must be ${MATMUL_PRECISIONS.join(' or ')}, got ${JSON.stringify(matmul)}`);
  if (matmul === 'bf16' && addon.info().matmul === undefined) throw new Error('configureNative: this build of the native engine has no bf16 products; rebuild it with node scripts/build-native.mjs');
  return addon.configure(options.threads ?? 0, options.isa ?? '', matmul ?? ''); // an older build ignores the third argument
}

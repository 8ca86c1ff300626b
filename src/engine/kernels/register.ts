// Installs the project's wasm kernels over (or beside) the stock ones. Imported for its side effect by
// ../tf.js, so every module that uses `tf` gets them; registering again is a no-op.
//
// Imports tfjs-core directly, not ../tf.js: that module imports this one.
import { engine, getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm'; // the stock kernels must be registered before they are replaced
import { batchMatMulConfig } from './batch-mat-mul.js';
import { frozenKernelConfigs } from './frozen.js';
import { gatherConfig } from './gather.js';
import { geluArgConfig, geluGradConfig } from './gelu.js';
import { layerNormConfigs } from './layer-norm.js';
import { castConfig, identityConfig } from './identity.js';
import { nativeOpConfigs } from './native-ops.js';
import { sliceConfig, splitVConfig } from './slice.js';
import { sumConfig } from './sum.js';
import { transposeConfig } from './transpose.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

const BACKEND = 'wasm';

const OURS: readonly KernelConfig[] = [batchMatMulConfig, unsortedSegmentSumConfig, identityConfig, castConfig, sliceConfig, splitVConfig, sumConfig, gatherConfig, transposeConfig, geluArgConfig, geluGradConfig, ...layerNormConfigs, ...nativeOpConfigs, ...frozenKernelConfigs];

// The kernels ours replaced, by name, so a benchmark can put them back.
const stock = new Map<string, KernelConfig>();

const isOurs = (config: KernelConfig) => getKernel(config.kernelName, BACKEND) === config;

/** Registers the project's wasm kernels, replacing stock ones of the same name. Idempotent. */
export function registerWasmKernels(): void {
  for (const config of OURS) {
    if (isOurs(config)) continue;
    const current = getKernel(config.kernelName, BACKEND);
    if (current !== undefined) {
      stock.set(config.kernelName, current);
      unregisterKernel(config.kernelName, BACKEND);
    }
    registerKernel(config);
  }
}

/** Puts the stock wasm kernels back (for before/after benchmarks); `registerWasmKernels` undoes it. */
export function restoreStockWasmKernels(): void {
  // Not findBackend(): on a backend not yet started it begins an async init that blocks the current one.
  const backend = engine().registry[BACKEND];
  for (const config of OURS) {
    if (!isOurs(config)) continue;
    unregisterKernel(config.kernelName, BACKEND);
    const original = stock.get(config.kernelName);
    if (original === undefined) continue;
    registerKernel(original);
    // The backend may have started while ours was registered, so the stock setup never ran.
    if (backend != null) original.setupFunc?.(backend);
  }
}

registerWasmKernels();

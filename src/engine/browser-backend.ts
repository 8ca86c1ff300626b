// Engine choice in a browser (or a Web Worker): webgpu, else webgl, else wasm with the project's SIMD
// kernels, else cpu, by what the browser can start. The wasm backend's .wasm files are fetched from
// `wasmPaths` (the playground serves them at /tfjs-wasm/); nothing is fetched from elsewhere.
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';
import { engineName } from './backend.js';

/** The engines a browser may have, in order of preference. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

export interface BrowserBackendOptions {
  /** Folder URL (ending in "/") of tfjs-backend-wasm's .wasm files. Default "/tfjs-wasm/". */
  wasmPaths?: string;
}

let wasmPathsSet = false;

/**
 * tfjs-backend-webgpu 4.22's AddN returns zeros for more than a few inputs (measured in chromium on
 * SwiftShader: 9 or 39 scalars sum to 0, 2 or 3 are right), which zeroed the global gradient norm.
 * The fix sums pairwise with the backend's own Add kernel.
 */
function fixWebgpuAddN(): void {
  const add = tf.getKernel('Add', 'webgpu');
  const identity = tf.getKernel('Identity', 'webgpu');
  if (!add || !identity || !tf.getKernel('AddN', 'webgpu')) return;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({
    kernelName: 'AddN',
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const list = inputs as unknown as tf.TensorInfo[];
      if (list.length === 1) return identity.kernelFunc({ inputs: { x: list[0] }, backend, attrs }) as tf.TensorInfo;
      const disposeData = (id: object) => (backend as unknown as { disposeData(id: object): void }).disposeData(id);
      let sum = add.kernelFunc({ inputs: { a: list[0], b: list[1] }, backend, attrs }) as tf.TensorInfo;
      for (const t of list.slice(2)) {
        const next = add.kernelFunc({ inputs: { a: sum, b: t }, backend, attrs }) as tf.TensorInfo;
        disposeData(sum.dataId);
        sum = next;
      }
      return sum;
    },
  });
}

// At import, so that a tf.setBackend('webgpu') of the caller's own gets the fix too.
fixWebgpuAddN();

/**
 * Starts `name` (or the first of BROWSER_BACKENDS that starts) and returns the engine's name. A
 * requested engine that cannot start is an error naming it; the automatic choice says nothing.
 *
 * @example
 *   await useBrowserBackend();          // webgpu where the browser has it, else webgl, wasm, cpu
 *   await useBrowserBackend('wasm');    // the wasm backend and lorapro's SIMD kernels
 */
export async function useBrowserBackend(name?: BrowserBackend, opts: BrowserBackendOptions = {}): Promise<string> {
  if (!wasmPathsSet) {
    // The threaded build needs a cross-origin-isolated page and gives the project's kernels a shared heap they do not take.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(opts.wasmPaths ?? '/tfjs-wasm/');
    wasmPathsSet = true;
  }
  if (name !== undefined) {
    if (!(BROWSER_BACKENDS as readonly string[]).includes(name)) throw new Error(`unknown engine "${name}"; a browser has: ${BROWSER_BACKENDS.join(', ')}`);
    if (!(await tf.setBackend(name).catch(() => false))) throw new Error(`engine "${name}" cannot start in this browser${name === 'webgpu' ? ' (no WebGPU adapter: try another browser, or chromium with --enable-unsafe-webgpu)' : ''}`);
    await tf.ready();
    return engineName();
  }
  for (const candidate of BROWSER_BACKENDS) {
    if (await tf.setBackend(candidate).catch(() => false)) {
      await tf.ready();
      return engineName();
    }
  }
  throw new Error(`no engine could start in this browser (tried ${BROWSER_BACKENDS.join(', ')})`);
}

// Engine choice in a browser (or a Web Worker): webgpu, else webgl, else wasm with the project's SIMD
// kernels, else cpu, by what the browser can start; a GPU that is emulated on the CPU (SwiftShader,
// lavapipe, llvmpipe) is passed over, as it is many times slower than wasm. The wasm backend's .wasm
// files are fetched from `wasmPaths` (the playground serves them at /tfjs-wasm/); nothing is fetched
// from elsewhere.
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { tf } from './tf.js';
import { engineName, setEngineChoice } from './backend.js';
import { isSoftwareRenderer } from './gpu-adapter.js';
import { startWebgpu, type GpuLike } from './webgpu.js';

/** The engines a browser may have, in order of preference. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BrowserBackend = (typeof BROWSER_BACKENDS)[number];

export interface BrowserBackendOptions {
  /** Folder URL (ending in "/") of tfjs-backend-wasm's .wasm files. Default "/tfjs-wasm/". */
  wasmPaths?: string;
}

let wasmPathsSet = false;

/** navigator.gpu where this browser (or worker) has WebGPU. */
function browserGpu(): GpuLike | undefined {
  return (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
}

/** The WebGL renderer's name ("" when hidden), or undefined without WebGL. */
function webglRenderer(): string | undefined {
  const g = globalThis as { OffscreenCanvas?: new (w: number, h: number) => { getContext(kind: string): WebGLRenderingContext | null } };
  if (!g.OffscreenCanvas) return undefined;
  const canvas = new g.OffscreenCanvas(1, 1);
  let gl: WebGLRenderingContext | null;
  try {
    gl = canvas.getContext('webgl2') ?? canvas.getContext('webgl');
  } catch {
    return undefined;
  }
  if (!gl) return undefined;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = [debug ? gl.getParameter(debug.UNMASKED_RENDERER_WEBGL) : '', gl.getParameter(gl.RENDERER)].filter((r) => typeof r === 'string' && r).join(' / ');
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return renderer;
}

/**
 * Starts `name` (or the best engine this browser has) and returns the engine's name; the engine line
 * (`describeEngineChoice()`) says why. Best available: webgpu on a hardware adapter, else webgl on a
 * hardware renderer, else wasm, else cpu; a software GPU is never chosen over wasm. A requested engine
 * that cannot start is an error naming it; webgpu asked for by name runs on a software adapter too.
 *
 * @example
 *   await useBrowserBackend();          // a real GPU's webgpu or webgl, else wasm
 *   await useBrowserBackend('wasm');    // the wasm backend and lorapro's SIMD kernels
 */
export async function useBrowserBackend(name?: BrowserBackend, opts: BrowserBackendOptions = {}): Promise<string> {
  if (!wasmPathsSet) {
    // The threaded build needs a cross-origin-isolated page and gives the project's kernels a shared heap they do not take.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    setWasmPaths(opts.wasmPaths ?? '/tfjs-wasm/');
    wasmPathsSet = true;
  }
  if (name !== undefined) return startRequested(name);
  const skipped: string[] = [];
  const gpu = browserGpu();
  const webgpu = gpu ? await startWebgpu(gpu, { allowSoftware: false }).catch((err: Error) => ({ ok: false as const, reason: err.message })) : { ok: false as const, reason: 'no WebGPU in this browser' };
  if (webgpu.ok) return chosen('best available');
  skipped.push(`webgpu: ${webgpu.reason}`);
  const renderer = webglRenderer();
  if (renderer === undefined) skipped.push('webgl: none');
  else if (isSoftwareRenderer(renderer)) skipped.push(`webgl: a software renderer (${renderer})`);
  else if (await tf.setBackend('webgl').catch(() => false)) return chosen('best available');
  else skipped.push('webgl: failed to start');
  for (const candidate of ['wasm', 'cpu'] as const) {
    if (await tf.setBackend(candidate).catch(() => false)) return chosen(`best available; passed over ${skipped.join('; ')}`);
    skipped.push(`${candidate}: failed to start`);
  }
  throw new Error(`no engine could start in this browser (tried ${BROWSER_BACKENDS.join(', ')})`);
}

async function startRequested(name: BrowserBackend): Promise<string> {
  if (!(BROWSER_BACKENDS as readonly string[]).includes(name)) throw new Error(`unknown engine "${name}"; a browser has: ${BROWSER_BACKENDS.join(', ')}`);
  const noAdapter = ' (no WebGPU adapter: try another browser, or chromium with --enable-unsafe-webgpu)';
  if (name === 'webgpu') {
    const gpu = browserGpu();
    if (!gpu) throw new Error(`engine "webgpu" cannot start in this browser${noAdapter}`);
    const started = await startWebgpu(gpu, { allowSoftware: true });
    if (!started.ok) throw new Error(`engine "webgpu" cannot start in this browser (${started.reason})`);
    return chosen(started.adapter.software ? 'asked for; a software adapter is slower than wasm' : 'asked for');
  }
  if (!(await tf.setBackend(name).catch(() => false))) throw new Error(`engine "${name}" cannot start in this browser`);
  return chosen('asked for');
}

async function chosen(why: string): Promise<string> {
  await tf.ready();
  setEngineChoice(why);
  return engineName();
}

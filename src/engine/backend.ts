import { tf } from './tf.js';
import { guardWasmHeap } from './heap.js';
import { nativeKernelsOn, nativeStatus, useNativeKernels, type MatmulPrecision } from './native.js';
import { describeAdapter, webgpuAdapter } from './gpu-adapter.js';

/** Backends the package knows how to start, in order of preference for Node. */
export const NODE_BACKENDS = ['wasm', 'cpu'] as const;
/** `native` is the wasm backend with the project's C++ kernels (./native.ts) doing its heavy kernels. */
export type BackendName = 'native' | 'wasm' | 'cpu' | 'webgl' | 'webgpu';

/** Environment variable that overrides the default engine (native, else wasm, in Node). */
export const BACKEND_ENV = 'LORAPRO_BACKEND';

const NATIVE = 'native';
const WEBGPU = 'webgpu';

/** Why the current engine was chosen, for the engine line (`describeEngineChoice()`). */
let choice = '';

function inNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node !== undefined;
}

/** The cpu backend greets Node users with a tfjs-node advert on first use; tfjs-node is not an option here. */
function quietCpu(): void {
  const backend = tf.backend() as unknown as { firstUse?: boolean };
  if (tf.getBackend() === 'cpu' && backend.firstUse) backend.firstUse = false;
  guardWasmHeap(); // a wasm heap that cannot grow throws a clear error rather than handing out offset 0
}

function envBackend(): string | undefined {
  // Guarded so the browser bundle never touches `process`.
  const env = typeof process !== 'undefined' ? process.env : undefined;
  const value = env?.[BACKEND_ENV]?.trim();
  return value ? value : undefined;
}

let fallbackSaid = false;

/** One line on stderr, once per process, when Node runs without the native engine it could have had. */
function sayFallback(reason: string): void {
  if (fallbackSaid || typeof process === 'undefined' || process.versions?.node === undefined) return;
  fallbackSaid = true;
  process.stderr.write(`lorapro: native engine unavailable, computing on wasm: ${reason}\n`);
}

/**
 * Starts an engine and makes it current. With no name, uses `LORAPRO_BACKEND`, else the native engine
 * (the wasm backend with the project's C++ kernels) when it loads, else plain `wasm` (saying why once
 * on stderr), else `cpu`. An explicitly requested engine that fails is an error, except `webgpu` in
 * Node (Dawn's optional `webgpu` package): without the package or a GPU adapter, one line on stderr
 * says why and the default engine computes. Returns the engine's name (`engineName()`).
 *
 * @example
 *   await useBackend();          // native in Node when built, else wasm, unless LORAPRO_BACKEND says otherwise
 *   await useBackend('wasm');    // the wasm kernels only
 *   await useBackend('cpu');     // the reference backend
 *   await useBackend('webgpu');  // a GPU through Dawn's node bindings (npm i webgpu); else the default, saying why
 */
export async function useBackend(name?: string): Promise<string> {
  const requested = name ?? envBackend();
  const source = name ? 'useBackend()' : BACKEND_ENV;
  if (requested === NATIVE) {
    const status = nativeStatus();
    if (!status.available) throw new Error(`the native engine was requested (from ${source}) but is unavailable: ${status.reason}`);
    if (!(await tf.setBackend('wasm'))) throw new Error('TF.js backend "wasm" (under the native engine) failed to start');
    await tf.ready();
    guardWasmHeap();
    useNativeKernels(true);
    choice = 'asked for';
    return engineName();
  }
  if (requested === WEBGPU && inNode()) return useNodeWebgpu();
  useNativeKernels(requested === undefined);
  if (requested !== undefined) {
    if (tf.findBackendFactory(requested) == null) {
      const known = [NATIVE, ...Object.keys(tf.engine().registryFactory), ...(inNode() ? [WEBGPU] : [])].join(', ');
      throw new Error(`unknown engine "${requested}" (from ${source}); registered: ${known}`);
    }
    if (!(await tf.setBackend(requested))) throw new Error(`TF.js backend "${requested}" failed to start`);
    await tf.ready();
    quietCpu();
    choice = 'asked for';
    return engineName();
  }
  return useBestCpuEngine();
}

/**
 * The default in Node: native, else wasm, else cpu. A GPU is not probed: webgpu is taken only when
 * asked for (`--backend webgpu`), so the default never lands on a software adapter.
 */
async function useBestCpuEngine(why?: string): Promise<string> {
  useNativeKernels(true);
  for (const candidate of NODE_BACKENDS) {
    if (await tf.setBackend(candidate).catch(() => false)) {
      await tf.ready();
      quietCpu();
      const status = nativeStatus();
      if (candidate === 'wasm' && !status.available) sayFallback(status.reason);
      choice = why ?? (engineName() === NATIVE ? 'default' : candidate === 'wasm' ? 'default: the native engine is unavailable' : 'default: wasm failed to start');
      return engineName();
    }
  }
  throw new Error(`no TF.js backend could start (tried ${NODE_BACKENDS.join(', ')})`);
}

/**
 * webgpu in Node through Dawn's node bindings (./node-webgpu.ts, loaded only here). Asked for by name,
 * so a software adapter (SwiftShader) is used, and the engine line says it is one; without the
 * package or an adapter, one line on stderr says why and the CPU engine computes.
 */
async function useNodeWebgpu(): Promise<string> {
  const { startNodeWebgpu } = await import('./node-webgpu.js');
  const started = await startNodeWebgpu({ allowSoftware: true });
  if (started.ok) {
    useNativeKernels(false);
    choice = started.adapter.software ? 'asked for; a software adapter is slower than the wasm engine' : 'asked for';
    return engineName();
  }
  const engine = await useBestCpuEngine(`webgpu was asked for but is unavailable: ${started.reason}`);
  process.stderr.write(`lorapro: webgpu unavailable, computing on ${describeEngine()}: ${started.reason}\n`);
  return engine;
}

let started: Promise<string> | undefined;

/** Starts the default backend once; later calls return the same promise. */
export function ensureBackend(): Promise<string> {
  started ??= useBackend();
  return started;
}

/** The engine computing now: `native` (wasm backend + C++ kernels), else the TF.js backend's name. */
export function engineName(): string {
  const backend = tf.getBackend();
  return backend === 'wasm' && nativeKernelsOn() ? NATIVE : backend;
}

/** The precision of products with frozen bf16 weights now: 'bf16' only on the native engine with it switched on and the CPU able. */
export function matmulPrecision(): MatmulPrecision {
  const status = nativeStatus();
  return engineName() === NATIVE && status.available && status.info.matmul === 'bf16' ? 'bf16' : 'f32';
}

/** The engine in words, for logs and `lorapro info`: e.g. "native (avx512, 2 threads) on wasm". */
export function describeEngine(): string {
  const name = engineName();
  const adapter = webgpuAdapter();
  if (name === WEBGPU && adapter) return `webgpu on ${describeAdapter(adapter)}`;
  if (name !== NATIVE) return name;
  const status = nativeStatus();
  const bf16 = status.available && status.info.matmul === 'bf16' ? ', bf16 products with bf16 weights' : '';
  return status.available ? `native (${status.info.isa}, ${status.info.threads} thread${status.info.threads === 1 ? '' : 's'}${bf16}) on wasm` : name;
}

/** The engine line: the engine in words and why it was chosen, e.g. "native (avx2, 8 threads) on wasm; default". */
export function describeEngineChoice(): string {
  return choice ? `${describeEngine()}; ${choice}` : describeEngine();
}

/** Records why the current engine was chosen (engine/browser-backend.ts chooses in browsers). */
export function setEngineChoice(why: string): void {
  choice = why;
}

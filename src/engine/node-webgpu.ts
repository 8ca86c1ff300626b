// The webgpu engine in Node: Dawn's node bindings (the optional `webgpu` npm package, a prebuilt
// dawn.node for linux-x64, darwin and win32 over Vulkan, Metal or D3D12) give Node the browser's WebGPU,
// and engine/webgpu.ts runs the browser's code path on it. Loaded lazily by engine/backend.ts, so wasm
// and native users never load Dawn or the webgpu kernels. No node:* import: this file is reachable
// from the browser bundle (a browser never calls it).
import type { WebgpuStart } from './webgpu.js';

/** Dawn's module: `create(flags)` returns a navigator.gpu; `globals` holds GPUBufferUsage and the other WebGPU constants. */
interface DawnModule {
  create(flags: string[]): { requestAdapter(o?: object): Promise<unknown> };
  globals: Record<string, unknown>;
}

// A variable, so that bundlers leave the optional package alone.
const DAWN_PACKAGE = 'webgpu';

/** Dawn's module, or why it did not load. `name` is for tests (a package that is not there). */
export async function loadDawn(name = DAWN_PACKAGE): Promise<DawnModule | string> {
  try {
    return (await import(name)) as DawnModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') return `the optional package "${name}" (Dawn's node bindings) is not installed: npm i ${name}`;
    return `the "${name}" package failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
}

let dawnGpu: ReturnType<DawnModule['create']> | undefined;

/**
 * Starts the webgpu engine in Node on the first adapter Dawn finds. `allowSoftware`: accept an adapter
 * that emulates the GPU on the CPU (only when webgpu was asked for by name). Returns why not when the
 * package, an adapter, or (with allowSoftware false) a hardware adapter is missing.
 */
export async function startNodeWebgpu(opts: { allowSoftware: boolean }): Promise<WebgpuStart> {
  if (!dawnGpu) {
    const dawn = await loadDawn();
    if (typeof dawn === 'string') return { ok: false, reason: dawn };
    // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode and GPUShaderStage as globals, as in a browser.
    for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
    dawnGpu = dawn.create([]);
    // tfjs-backend-webgpu's WebGPUBackend checks navigator.gpu (Node 21+ has a navigator without one).
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawnGpu }, configurable: true, writable: true });
    else if (g.navigator.gpu === undefined) Object.defineProperty(g.navigator, 'gpu', { value: dawnGpu, configurable: true });
  }
  const { startWebgpu } = await import('./webgpu.js');
  const result = await startWebgpu(dawnGpu, opts);
  if (!result.ok && result.reason === 'no WebGPU adapter found') {
    return { ok: false, reason: 'Dawn found no WebGPU adapter (no GPU, or no Vulkan/Metal/D3D12 driver: on Linux, libvulkan.so.1 and a Vulkan driver, see VK_ICD_FILENAMES)' };
  }
  return result;
}

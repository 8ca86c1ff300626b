// The webgpu engine, one code path for browsers and Node: tfjs-backend-webgpu's kernels and backend on
// a device lorapro requests itself from a WebGPU entry point (navigator.gpu in a browser, Dawn's
// `webgpu` package in Node, engine/node-webgpu.ts), with the limits raised to the adapter's maximum and
// the project's AddN fix. The adapter is checked first: a software one (SwiftShader, lavapipe,
// llvmpipe) is used only when asked for by name.
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { tf } from './tf.js';
import { describeAdapter, deviceDescriptor, setWebgpuAdapter, summarizeAdapter, type AdapterLike, type AdapterSummary } from './gpu-adapter.js';

/** The one method of navigator.gpu (GPU) used here. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<unknown>;
}

export type WebgpuStart = { ok: true; adapter: AdapterSummary } | { ok: false; reason: string; adapter?: AdapterSummary };

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

let started: AdapterSummary | undefined;

/**
 * Requests the adapter (high-performance), and unless it is a software adapter and `allowSoftware` is
 * false, a device with raised limits, registers it as TF.js's "webgpu" backend and makes it current.
 * Returns why not otherwise; throws only on a device that fails to start.
 */
export async function startWebgpu(gpu: GpuLike, opts: { allowSoftware: boolean }): Promise<WebgpuStart> {
  if (started && tf.engine().registry.webgpu) {
    if (started.software && !opts.allowSoftware) return { ok: false, reason: `the WebGPU adapter is ${describeAdapter(started)}`, adapter: started };
    await tf.setBackend('webgpu');
    return { ok: true, adapter: started };
  }
  const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as (AdapterLike & { requestDevice(d: object): Promise<GPUDevice> }) | null;
  if (!adapter) return { ok: false, reason: 'no WebGPU adapter found' };
  const summary = summarizeAdapter(adapter);
  if (summary.software && !opts.allowSoftware) return { ok: false, reason: `the WebGPU adapter is ${describeAdapter(summary)}`, adapter: summary };
  const descriptor = deviceDescriptor(adapter);
  const device = await adapter.requestDevice(descriptor);
  device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') console.error(`lorapro: the WebGPU device was lost (${lost.reason}): ${lost.message}`);
  });
  const backend = new WebGPUBackend(device, adapter.info as GPUAdapterInfo | undefined);
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu'); // the package's own factory, on navigator.gpu with default limits
  tf.registerBackend('webgpu', () => backend, 3);
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js backend "webgpu" failed to start on the requested device');
  await tf.ready();
  started = { ...summary, maxBufferSize: descriptor.requiredLimits.maxBufferSize };
  setWebgpuAdapter(started);
  return { ok: true, adapter: started };
}

// What a WebGPU adapter is, in words, and whether it is a real GPU: shared by the browser (navigator.gpu)
// and Node (Dawn's `webgpu` package), which hand in the same WebGPU objects. No TF.js, no WebGPU types:
// the few fields read here are declared structurally, so nothing depends on the optional `webgpu` package.

/** The fields of a GPUAdapterInfo read here (older Dawn and chromium put isFallbackAdapter on the adapter). */
export interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}

/** The parts of a GPUAdapter read here. */
export interface AdapterLike {
  readonly info?: AdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  readonly limits: Record<string, number> | object;
  readonly features: { has(name: string): boolean };
}

/** An adapter in a few words: who made it and whether the GPU is emulated on the CPU. */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** The GPU is emulated on the CPU (SwiftShader, lavapipe, llvmpipe, or the adapter says it is a fallback). */
  readonly software: boolean;
  /** maxBufferSize of the device created on it, in bytes (the largest tensor it can hold). */
  readonly maxBufferSize?: number;
}

/** CPU renderers by the names their drivers report (vendor, architecture, device or description). */
const SOFTWARE_NAMES = /swiftshader|lavapipe|llvmpipe|softpipe|software rasterizer|microsoft basic render/i;

/** Names the adapter and decides whether it is a CPU emulation, from `isFallbackAdapter` and the driver's names. */
export function summarizeAdapter(adapter: AdapterLike): AdapterSummary {
  const info = adapter.info ?? {};
  const names = [info.vendor, info.architecture, info.device, info.description].filter((s): s is string => !!s);
  const software = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || names.some((n) => SOFTWARE_NAMES.test(n));
  return { vendor: info.vendor ?? '', architecture: info.architecture ?? '', description: info.description ?? '', software };
}

/** e.g. "nvidia ampere", "google swiftshader, software adapter (the GPU emulated on the CPU)". */
export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || a.description || 'unnamed adapter';
  return a.software ? `${name}, software adapter (the GPU emulated on the CPU)` : name;
}

/**
 * A WebGL renderer string ("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) …)") that names
 * a CPU renderer. An empty or hidden string is not taken as software.
 */
export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE_NAMES.test(renderer);
}

/**
 * Limits raised to the adapter's maximum on the device lorapro trains on. WebGPU's defaults (256 MiB
 * buffers, 128 MiB storage bindings) are too small for a 128256 × 2048 float32 embedding (1.05 GB);
 * the rest are the ones tfjs-backend-webgpu's own device asks for.
 */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxStorageBuffersPerShaderStage',
] as const;

/** The device descriptor: every limit in RAISED_LIMITS at the adapter's maximum; no optional features. */
export function deviceDescriptor(adapter: AdapterLike): { requiredLimits: Record<string, number>; requiredFeatures: string[] } {
  const limits = adapter.limits as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const key of RAISED_LIMITS) if (typeof limits[key] === 'number') requiredLimits[key] = limits[key];
  return { requiredLimits, requiredFeatures: [] };
}

let current: AdapterSummary | undefined;

/** Records the adapter the webgpu engine computes on, for `describeEngine()`. */
export function setWebgpuAdapter(summary: AdapterSummary | undefined): void {
  current = summary;
}

/** The adapter the webgpu engine computes on, once started. */
export function webgpuAdapter(): AdapterSummary | undefined {
  return current;
}

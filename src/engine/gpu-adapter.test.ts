// Adapter classification: a CPU emulation of a GPU is named as one, whichever field gives it away;
// the device asks for the adapter's largest buffers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeAdapter, deviceDescriptor, isSoftwareRenderer, summarizeAdapter, type AdapterLike } from './gpu-adapter.js';

const adapter = (info: AdapterLike['info'], extra: Partial<AdapterLike> = {}): AdapterLike => ({ info, limits: {}, features: new Set<string>(), ...extra });

test('software adapters are recognised by isFallbackAdapter or by their driver names; GPUs are not', () => {
  const cases: [AdapterLike, boolean, string][] = [
    // What Dawn 0.6.2 reports for Debian chromium's SwiftShader ICD (measured here).
    [adapter({ vendor: 'google', architecture: 'swiftshader', device: 'swiftshader-device-subzero-', description: 'SwiftShader driver 5.0.0' }), true, 'google swiftshader, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }), true, 'mesa, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: '', architecture: '', device: 'lavapipe' }), true, 'unnamed adapter, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }), true, 'microsoft, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: 'x', isFallbackAdapter: true }), true, 'x, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: 'y' }, { isFallbackAdapter: true }), true, 'y, software adapter (the GPU emulated on the CPU)'],
    [adapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA H100 80GB HBM3' }), false, 'nvidia ampere'],
    [adapter({ vendor: 'apple', architecture: 'metal-3' }), false, 'apple metal-3'],
    [adapter(undefined), false, 'unnamed adapter'],
  ];
  for (const [a, software, words] of cases) {
    const s = summarizeAdapter(a);
    assert.equal(s.software, software, JSON.stringify(a.info));
    assert.equal(describeAdapter(s), words);
  }
});

test('WebGL renderer strings of CPU renderers are software; a hidden one is not taken as software', () => {
  assert.ok(isSoftwareRenderer('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)'));
  assert.ok(isSoftwareRenderer('llvmpipe (LLVM 15.0.6, 256 bits)'));
  assert.ok(!isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 4090 Direct3D11 vs_5_0 ps_5_0, D3D11)'));
  assert.ok(!isSoftwareRenderer(''));
});

test('the device asks for the adapter\'s maximum buffer sizes, so a 128256 x 2048 float32 embedding fits', () => {
  const embeddingBytes = 128256 * 2048 * 4; // Llama 3.2 1B's vocabulary x width: 1.05 GB, past WebGPU's 256 MiB default
  const limits = { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 32 - 4, maxComputeWorkgroupStorageSize: 32768, maxComputeWorkgroupsPerDimension: 65535, maxComputeWorkgroupSizeX: 1024, maxComputeInvocationsPerWorkgroup: 1024, maxStorageBuffersPerShaderStage: 10, maxTextureDimension2D: 16384 };
  const d = deviceDescriptor(adapter({}, { limits }));
  assert.equal(d.requiredLimits.maxBufferSize, 2 ** 32);
  assert.equal(d.requiredLimits.maxStorageBufferBindingSize, 2 ** 32 - 4);
  assert.ok(d.requiredLimits.maxStorageBufferBindingSize >= embeddingBytes);
  assert.equal(d.requiredLimits.maxStorageBuffersPerShaderStage, 10);
  assert.equal('maxTextureDimension2D' in d.requiredLimits, false, 'only the limits a compute engine needs');
  assert.deepEqual(d.requiredFeatures, []);
});

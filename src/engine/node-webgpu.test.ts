// The webgpu engine in Node (Dawn's `webgpu` package): it starts on SwiftShader when asked for by name,
// names the adapter as software, takes the adapter's largest buffers and sums with the AddN fix; with
// no package or no adapter it says why and computes on the CPU engine. Child processes, because the
// Vulkan loader reads its environment (VK_ICD_FILENAMES, LD_LIBRARY_PATH) at process start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadDawn } from './node-webgpu.js';
import { dawnInstalled, swiftshaderEnv } from './swiftshader-testing.js';

const INDEX = fileURLToPath(new URL('../index.js', import.meta.url));

/** Starts LORAPRO_BACKEND's engine in a fresh Node, runs a product and a 9-input AddN, and reports. */
const PROBE = `
import { useBackend, describeEngineChoice, tf } from ${JSON.stringify(INDEX)};
const engine = await useBackend();
const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
const sum = tf.addN(Array.from({ length: 9 }, (_, i) => tf.scalar(i + 1)));
const device = tf.backend().device;
console.log(JSON.stringify({ engine, line: describeEngineChoice(), y: Array.from(await y.data()), sum: (await sum.data())[0], maxBufferSize: device?.limits.maxBufferSize, maxStorageBufferBindingSize: device?.limits.maxStorageBufferBindingSize }));
`;

async function probe(env: NodeJS.ProcessEnv): Promise<{ out: { engine: string; line: string; y: number[]; sum: number; maxBufferSize?: number; maxStorageBufferBindingSize?: number }; err: string }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', PROBE], { env, timeout: 120_000 });
  return { out: JSON.parse(stdout.trim().split('\n').at(-1)!), err: stderr };
}

const sw = swiftshaderEnv();

test('--backend webgpu reaches SwiftShader when asked for, says it is a software adapter, and computes right', { skip: sw.skip }, async () => {
  const { out } = await probe(sw.env!);
  assert.equal(out.engine, 'webgpu');
  assert.match(out.line, /^webgpu on google swiftshader, software adapter \(the GPU emulated on the CPU\); asked for; a software adapter is slower than the wasm engine$/);
  assert.deepEqual(out.y, [17, 39]); // [1·5 + 2·6, 3·5 + 4·6]
  assert.equal(out.sum, 45); // 1 + … + 9: tfjs-backend-webgpu's own AddN gave 0 past a few inputs
  // SwiftShader's adapter allows 1 GiB; WebGPU's default device limit is 256 MiB (128 MiB per binding).
  assert.ok(out.maxBufferSize! >= 2 ** 30, `maxBufferSize ${out.maxBufferSize}`);
  assert.ok(out.maxStorageBufferBindingSize! >= 2 ** 30, `maxStorageBufferBindingSize ${out.maxStorageBufferBindingSize}`);
});

test('with no WebGPU adapter, webgpu asked for says why on stderr and the CPU engine computes', { skip: process.platform !== 'linux' ? 'a Vulkan loader with no driver is Linux' : !dawnInstalled() ? 'the optional package "webgpu" is not installed' : false }, async () => {
  const { out, err } = await probe({ ...process.env, LORAPRO_BACKEND: 'webgpu', VK_ICD_FILENAMES: '/nonexistent/no_icd.json' });
  assert.notEqual(out.engine, 'webgpu');
  assert.match(err, /lorapro: webgpu unavailable, computing on (native|wasm).*: Dawn found no WebGPU adapter/);
  assert.match(out.line, /; webgpu was asked for but is unavailable: Dawn found no WebGPU adapter/);
  assert.deepEqual(out.y, [17, 39]);
  assert.equal(out.sum, 45);
});

test('without the webgpu package the reason says how to install it', async () => {
  const reason = await loadDawn('lorapro-no-such-dawn-package');
  assert.equal(reason, 'the optional package "lorapro-no-such-dawn-package" (Dawn\'s node bindings) is not installed: npm i lorapro-no-such-dawn-package');
});

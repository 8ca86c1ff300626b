// `lorapro train --backend webgpu` in Node (Dawn's node bindings) on SwiftShader, the CPU emulation of
// a GPU that Debian's chromium ships: 6 steps of LoRA-Pro and of LoRA on the name-gender task's data
// give the wasm engine's losses within 2e-3 relative (float32 sums in another order; measured ~2e-6).
// Slow (SwiftShader compiles every kernel shape on the CPU: ~1 min a run on a loaded 2-core machine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { swiftshaderEnv } from '../engine/swiftshader-testing.js';
import { loadBuiltinTask } from '../tasks/builtin.js';
import { tempDir, writeJsonl } from '../train/testing.js';
import { writeTinyByteModel } from './testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const sw = swiftshaderEnv();
const root = tempDir('lorapro-webgpu-');
const model = await writeTinyByteModel(join(root, 'model'));
// The built-in task's own split; 8 evaluation examples instead of its 300 keep the emulated runs short.
const task = loadBuiltinTask('name-gender', { maxTrain: 48 });
const records = (xs: { text: string; label: number }[]) => xs.map((x) => ({ text: x.text, label: task.labels[x.label] }));
const train = writeJsonl(join(root, 'train.jsonl'), records(task.train));
const evalFile = writeJsonl(join(root, 'eval.jsonl'), records(task.validation.slice(0, 8)));

async function trainLosses(backend: 'webgpu' | 'wasm', method: string): Promise<{ losses: number[]; err: string }> {
  const out = join(root, `${method}-${backend}`);
  const argv = [MAIN, 'train', '--model', model, '--task', 'classification', '--train', train, '--eval', evalFile, '--method', method, '--lr', '1e-2', '--max-steps', '6', '--batch-size', '8', '--max-length', '16', '--eval-every', '6', '--no-diagnostics', '--backend', backend, '--out', out];
  const env = backend === 'webgpu' ? sw.env! : process.env; // --backend wasm overrides LORAPRO_BACKEND
  const { stderr } = await promisify(execFile)(process.execPath, argv, { env, timeout: 900_000 });
  const losses = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  return { losses, err: stderr };
}

for (const method of ['lora-pro', 'lora']) {
  test(`${method}: 6 steps on webgpu (SwiftShader) give the wasm engine's losses within 2e-3 relative`, { skip: sw.skip, timeout: 1_800_000 }, async () => {
    const gpu = await trainLosses('webgpu', method);
    const cpu = await trainLosses('wasm', method);
    assert.match(gpu.err, /engine: webgpu on google swiftshader, software adapter/);
    assert.equal(gpu.losses.length, 6);
    assert.equal(cpu.losses.length, 6);
    const worst = Math.max(...gpu.losses.map((l, i) => Math.abs(l - cpu.losses[i]) / Math.abs(cpu.losses[i])));
    console.log(`${method}: webgpu ${gpu.losses.map((l) => l.toFixed(6)).join(' ')}; wasm ${cpu.losses.map((l) => l.toFixed(6)).join(' ')}; largest relative difference ${worst.toExponential(2)}`);
    gpu.losses.forEach((l, i) => assert.ok(Math.abs(l - cpu.losses[i]) <= 2e-3 * Math.abs(cpu.losses[i]), `step ${i + 1}: webgpu ${l}, wasm ${cpu.losses[i]}`));
    assert.ok(new Set(cpu.losses).size > 1, 'the losses move, so agreement is not a constant');
  });
}

// The README's API example, run as written against a fixture model through the package's own name,
// and a fresh process that imports the package and runs a raw op with no set-up at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPretrained, injectLora, loraConfig, LoraProAdamW, namedGradients, saveAdapter, tf, useBackend } from 'lorapro';
import { fixtureDir } from './models/testing.js';

test("the README's five-line API example trains one LoRA-Pro step and writes a PEFT adapter", async () => {
  await useBackend();
  const out = await mkdtemp(join(tmpdir(), 'lorapro-readme-'));
  try {
    const ids = tf.tensor2d([[1, 5, 9, 3], [2, 4, 6, 8]], [2, 4], 'int32');
    const model = await loadPretrained(fixtureDir('llama-gqa-f16'), { task: 'causal-lm' });
    const pairs = injectLora(model, loraConfig({ r: 2, loraAlpha: 4, targetModules: ['q_proj', 'v_proj'] }));
    const opt = new LoraProAdamW(pairs, new Map(), { lr: 2e-4 });
    const { loss, grads } = namedGradients(model.trainableParameters(), () => model.loss(ids, ids));
    await opt.step(grads); await saveAdapter(model, out);
    assert.ok(Number.isFinite(loss.dataSync()[0]));
    assert.ok(pairs.every((p) => p.B.dataSync().some((v) => v !== 0)), 'every B moved off zero');
    assert.deepEqual((await readdir(out)).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('importing the package starts its backend: a raw op in a fresh process needs no ensureBackend()', () => {
  // An r = 2 adapter of a 4×3 layer, built and adjusted before anything has started a backend.
  const script = [
    "import { tf, loraProGradients } from 'lorapro';",
    'const A = tf.tensor2d([[1, 2, 3], [0, 1, -1]]), B = tf.tensor2d([[1, 0], [2, 1], [0, 3], [1, 1]]);',
    'const gradA = tf.tensor2d([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]), gradB = tf.tensor2d([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6], [0.7, 0.8]]);',
    'const out = await loraProGradients({ A, B, gradA, gradB, scale: 2 });',
    'console.log(tf.getBackend(), tf.sum(out.gradA).dataSync()[0] + tf.sum(out.gradB).dataSync()[0]);',
  ].join('\n');
  const root = fileURLToPath(new URL('..', import.meta.url)); // dist/.. : the package, which imports itself by name
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [backend, value] = r.stdout.trim().split(' ');
  assert.equal(backend, process.env.LORAPRO_BACKEND?.trim() || 'wasm');
  assert.ok(Number.isFinite(Number(value)), r.stdout);
});

// The README's API example, run as written against a fixture model through the package's own name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
    opt.step(grads); await saveAdapter(model, out);
    assert.ok(Number.isFinite(loss.dataSync()[0]));
    assert.ok(pairs.every((p) => p.B.dataSync().some((v) => v !== 0)), 'every B moved off zero');
    assert.deepEqual((await readdir(out)).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

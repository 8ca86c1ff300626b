import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { generate } from './generate.js';
import { loadPretrained } from './pretrained.js';
import { sampleToken, topKFilter, topPFilter } from './sampling.js';
import { assertClose, fixtureDir } from './testing.js';

for (const name of ['gpt2-lm', 'llama-gqa-f16', 'mistral-window']) {
  test(`${name}: KV-cache generation gives the tokens and logits of full recomputation`, async () => {
    await useBackend('wasm');
    const model = await loadPretrained(fixtureDir(name), { task: 'causal-lm' });
    try {
      const prompt = [1, 40, 7, 13];
      const before = tf.memory().numTensors;
      const cached = await generate(model, prompt, { maxNewTokens: 6, returnLogits: true, stopAtEos: false });
      assert.equal(tf.memory().numTensors, before, 'the cache is disposed');
      const full = await generate(model, prompt, { maxNewTokens: 6, returnLogits: true, stopAtEos: false, useCache: false });
      assert.deepEqual(cached.ids, full.ids);
      assert.equal(cached.logits!.length, 6);
      cached.logits!.forEach((l, i) => assertClose(l, full.logits![i], 1e-4, `step ${i} logits`));
      assert.ok(new Set(cached.ids).size > 1, 'a non-trivial continuation (the test would catch a stuck cache)');
    } finally {
      model.dispose();
    }
  });
}

test('top-k 1 sampling equals greedy; seeded sampling is reproducible; eos stops', async () => {
  await useBackend('wasm');
  const model = await loadPretrained(fixtureDir('llama-gqa-f16'), { task: 'causal-lm' });
  try {
    const prompt = [1, 22, 5];
    const greedy = await generate(model, prompt, { maxNewTokens: 5, stopAtEos: false });
    const topK1 = await generate(model, prompt, { maxNewTokens: 5, temperature: 1.3, topK: 1, seed: 9, stopAtEos: false });
    assert.deepEqual(topK1.ids, greedy.ids);
    const opts = { maxNewTokens: 8, temperature: 1.5, topP: 0.95, seed: 42, stopAtEos: false };
    const a = await generate(model, prompt, opts);
    const b = await generate(model, prompt, opts);
    const c = await generate(model, prompt, { ...opts, seed: 43 });
    assert.deepEqual(a.ids, b.ids);
    assert.notDeepEqual(a.ids, c.ids);
    assert.notDeepEqual(a.ids.slice(0, 5), greedy.ids, 'sampling is not greedy');
    const stop = await generate(model, prompt, { maxNewTokens: 5, eosTokenId: greedy.ids[1] });
    assert.deepEqual(stop.ids, greedy.ids.slice(0, 2), 'stops after emitting eos, which is kept');
  } finally {
    model.dispose();
  }
});

test('top-k and top-p filters follow Hugging Face', () => {
  const s = Float64Array.from([1, 3, 2, 3, 0]);
  topKFilter(s, 2); // the 2nd largest is 3: both 3s kept (ties), the rest dropped
  assert.deepEqual([...s], [-Infinity, 3, -Infinity, 3, -Infinity]);
  // probabilities 0.5, 0.3, 0.15, 0.05: ascending cumsum 0.05, 0.2, 0.5 ≤ 1 − 0.6 drops the two smallest…
  const p = Float64Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  topPFilter(p, 0.6);
  assert.deepEqual([...p].map((v) => v > -Infinity), [true, true, false, false]);
  // …and the most likely token always survives
  const q = Float64Array.from([0.9, 0.1].map(Math.log));
  topPFilter(q, 0.01);
  assert.deepEqual([...q].map((v) => v > -Infinity), [true, false]);
  // sampling draws in proportion: with u from the seeded stream, token 1 of [0.25, 0.75] for u ≥ 0.25
  const rng = new Rng(7);
  const u = new Rng(7).next();
  assert.equal(sampleToken(Float64Array.from([0.25, 0.75].map(Math.log)), { temperature: 1 }, rng), u < 0.25 ? 0 : 1);
});

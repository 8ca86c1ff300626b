// `targetModules: 'peft'` resolves to PEFT's per-model-type defaults (constants.py), checked against
// the layers it then selects in a tiny T5 and GPT-2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../engine/backend.js';
import { parseModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import type { Module } from '../models/module.js';
import { TINY } from '../models/testing.js';
import { loraConfig } from './lora-config.js';
import { selectTargets } from './inject.js';
import { loraConfigFromJson, loraConfigToJson } from './peft-format.js';
import { parseTargetModules, resolveTargetModules } from './peft-targets.js';

test("'peft' is q and v for T5 (every attention of both stacks) and c_attn for GPT-2", async () => {
  await useBackend('wasm');
  const t5 = createModel(parseModelConfig({ model_type: 't5', vocab_size: 20, d_model: 8, d_kv: 4, d_ff: 8, num_layers: 1, num_heads: 2 }, 'tiny t5'), { init: randomInit(0) });
  const gpt2 = createModel(TINY.gpt2(), { task: 'causal-lm', init: randomInit(0) });
  try {
    assert.deepEqual(resolveTargetModules('peft', t5), ['q', 'v']);
    const selected = selectTargets(t5, loraConfig({ targetModules: resolveTargetModules('peft', t5) }));
    assert.deepEqual(selected, [
      'encoder.block.0.layer.0.SelfAttention.q', 'encoder.block.0.layer.0.SelfAttention.v',
      'decoder.block.0.layer.0.SelfAttention.q', 'decoder.block.0.layer.0.SelfAttention.v',
      'decoder.block.0.layer.1.EncDecAttention.q', 'decoder.block.0.layer.1.EncDecAttention.v',
    ]);
    assert.deepEqual(resolveTargetModules('peft', gpt2), ['c_attn']);
    assert.equal(resolveTargetModules('all-linear', gpt2), 'all-linear');
    assert.deepEqual(resolveTargetModules(['c_proj'], gpt2), ['c_proj']);
    const bart = { config: { modelType: 'bart' } } as unknown as Module;
    assert.throws(() => resolveTargetModules('peft', bart), /PEFT has no default LoRA targets for model type "bart" \(known: t5, gpt2/);
  } finally {
    t5.dispose();
    gpt2.dispose();
  }
});

test('--target-modules as PEFT reads target_modules: one regex string (full match) or a list of names, in adapter_config.json too', async () => {
  assert.equal(parseTargetModules('.*q_proj'), '.*q_proj', 'regex characters: one regex');
  assert.equal(parseTargetModules('.*\\.(q|v)_proj'), '.*\\.(q|v)_proj');
  assert.deepEqual(parseTargetModules('q_proj, v_proj'), ['q_proj', 'v_proj'], 'a comma list: names');
  assert.deepEqual(parseTargetModules('q_proj'), ['q_proj'], 'one plain name is a name (a suffix), not a regex that matches nothing');
  assert.deepEqual(parseTargetModules('model.layers.0.self_attn.q_proj'), ['model.layers.0.self_attn.q_proj'], 'dots belong to module paths');
  assert.deepEqual(parseTargetModules(['c_attn']), ['c_attn'], 'an array (a config file) is names');
  assert.equal(parseTargetModules('all-linear'), 'all-linear');
  assert.equal(parseTargetModules('peft'), 'peft');
  assert.throws(() => parseTargetModules('(q'), /"\(q" is not a valid regular expression/);
  assert.throws(() => parseTargetModules(' , '), /must be a comma-separated list of module names, a regex/);

  await useBackend('cpu');
  const llama = createModel(TINY.llama(), { task: 'causal-lm', init: randomInit(0) });
  try {
    const regex = loraConfig({ targetModules: parseTargetModules('.*q_proj') });
    const q = selectTargets(llama, regex);
    assert.ok(q.length > 0 && q.every((p) => p.endsWith('.q_proj')), `the issue's '.*q_proj' adapts every q_proj: ${q}`);
    assert.deepEqual(selectTargets(llama, loraConfig({ targetModules: parseTargetModules('q_proj') })), q, 'the name q_proj selects the same layers');
    // PEFT's adapter_config.json: a string stays a string (PEFT fullmatches it), names are a list
    const json = loraConfigToJson(regex, { fanInFanOut: false });
    assert.equal(json.target_modules, '.*q_proj');
    assert.deepEqual(selectTargets(llama, loraConfigFromJson(json, 'adapter_config.json')), q);
    assert.deepEqual(loraConfigToJson(loraConfig({ targetModules: parseTargetModules('v_proj,q_proj') }), { fanInFanOut: false }).target_modules, ['q_proj', 'v_proj']);
  } finally {
    llama.dispose();
  }
});

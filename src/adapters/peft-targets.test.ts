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
import { resolveTargetModules } from './peft-targets.js';

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

// LoRA on real model trees (the parity fixtures): fresh adapters change nothing, merging is exact,
// PEFT adapter folders and merged Hugging Face folders load back with the same logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { loadPretrained, savePretrained } from '../models/pretrained.js';
import type { AnyModel } from '../models/types.js';
import { fixtureDir, int2d, readExpected } from '../models/testing.js';
import { readSafetensors } from '../io/safetensors.js';
import { loraConfig } from './lora-config.js';
import { injectLora, loraPairs, mergeAndUnload, setMerged } from './inject.js';
import { loadAdapter, saveAdapter } from './peft-files.js';

function outputs(model: AnyModel, name: string): tf.Tensor {
  const exp = readExpected(name);
  return tf.tidy(() => {
    const ids = int2d(exp.input_ids);
    const mask = int2d(exp.attention_mask);
    return model.task === 'causal-lm' ? model.logits(ids, { attentionMask: mask }) : model.classify(ids, mask);
  });
}

const maxRel = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(tf.max(tf.abs(b)).dataSync()[0], 1e-12));

const CASES: Array<{ name: string; targets: string[] | 'all-linear'; modulesToSave: string[]; peftTask: string; fanInFanOut: boolean }> = [
  { name: 'gpt2-lm', targets: ['c_attn', 'c_proj'], modulesToSave: [], peftTask: 'CAUSAL_LM', fanInFanOut: true },
  { name: 'llama-gqa-f16', targets: 'all-linear', modulesToSave: [], peftTask: 'CAUSAL_LM', fanInFanOut: false },
  { name: 'bert-cls', targets: ['query', 'value'], modulesToSave: ['classifier'], peftTask: 'SEQ_CLS', fanInFanOut: false },
];

for (const c of CASES) {
  test(`${c.name}: fresh adapter is a no-op, merge is exact, adapter and merged folders reload with the same outputs`, async () => {
    await useBackend('wasm');
    const dir = await mkdtemp(join(tmpdir(), 'lorapro-peft-'));
    try {
      const model = await loadPretrained(fixtureDir(c.name));
      const base = outputs(model, c.name);
      injectLora(model, loraConfig({ r: 2, loraAlpha: 8, targetModules: c.targets, modulesToSave: c.modulesToSave }));
      assert.equal(maxRel(outputs(model, c.name), base), 0, 'a fresh adapter (B = 0) changed the outputs');
      const rng = new Rng(3);
      for (const p of loraPairs(model)) p.B.assign(tf.tensor2d(rng.normalArray(p.B.size, 0.05), p.B.shape));
      const adapted = outputs(model, c.name);
      assert.ok(maxRel(adapted, base) > 1e-4, 'trained adapters should change the outputs');
      setMerged(model, true);
      assert.ok(maxRel(outputs(model, c.name), adapted) < 1e-5, 'merged outputs differ from unmerged');
      setMerged(model, false);

      await saveAdapter(model, join(dir, 'adapter'));
      const cfg = JSON.parse(await readFile(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
      assert.equal(cfg.task_type, c.peftTask);
      assert.equal(cfg.fan_in_fan_out, c.fanInFanOut, 'GPT-2 Conv1D layers need fan_in_fan_out, as PEFT sets it');
      const keys = [...(await readSafetensors(join(dir, 'adapter', 'adapter_model.safetensors'))).tensors.keys()];
      const prefix = { 'gpt2-lm': 'base_model.model.transformer.h.0.attn.c_attn', 'llama-gqa-f16': 'base_model.model.model.layers.0.self_attn.q_proj', 'bert-cls': 'base_model.model.bert.encoder.layer.0.attention.self.query' }[c.name]!;
      assert.ok(keys.includes(`${prefix}.lora_A.weight`) && keys.includes(`${prefix}.lora_B.weight`), `expected PEFT key ${prefix}.lora_A.weight among ${keys.slice(0, 4).join(', ')}…`);
      if (c.modulesToSave.length) assert.ok(keys.includes('base_model.model.classifier.weight'));

      const reloaded = await loadPretrained(fixtureDir(c.name));
      await loadAdapter(reloaded, join(dir, 'adapter'));
      assert.equal(maxRel(outputs(reloaded, c.name), adapted), 0, 'save → load of the adapter must reproduce outputs exactly');

      mergeAndUnload(model);
      await savePretrained(model, join(dir, 'merged'), { copyFrom: fixtureDir(c.name) });
      const merged = await loadPretrained(join(dir, 'merged'));
      assert.ok(maxRel(outputs(merged, c.name), adapted) < 1e-5, 'the merged folder loads with different outputs');
      [model, reloaded, merged].forEach((m) => m.dispose());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

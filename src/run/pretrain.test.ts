// Pretraining end to end on a tiny config: the published folder loads, carries a model card, and the
// validation loss fell from its first evaluation to its last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPretrained } from '../models/pretrained.js';
import { corpusSplits, MODEL_CARD_FILE, pretrain, writeInitialModel } from './pretrain.js';
import { METRICS_FILE, readMetrics } from '../train/metrics-log.js';
import { tempDir } from '../train/testing.js';

/** A tiny byte-level llama: head_dim 8, two layers. */
const TINY_BYTE_CONFIG = {
  model_type: 'llama',
  vocab_size: 257,
  hidden_size: 16,
  intermediate_size: 40,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
};

test('corpusSplits holds out every 25th chunk and keeps chunks within the context', () => {
  const { train, validation, source } = corpusSplits(64);
  assert.match(source, /^@stdlib\/datasets-moby-dick@/);
  assert.ok(validation.length > 0 && validation.length <= 128);
  assert.ok(train.length > 20 * validation.length);
  assert.ok([...train, ...validation].every((r) => r.text.length <= 64));
});

test('writeInitialModel refuses a vocabulary that is not the byte tokenizer\'s', async () => {
  await assert.rejects(writeInitialModel({ ...TINY_BYTE_CONFIG, vocab_size: 300 }, join(tempDir(), 'm'), 0), /vocab_size must be 257/);
});

test('pretrain: a few steps on a tiny config publish a loadable model whose validation loss fell', async () => {
  const root = tempDir('lorapro-pretrain-');
  const config = join(root, 'config.json');
  writeFileSync(config, JSON.stringify(TINY_BYTE_CONFIG));
  const out = join(root, 'model');
  const work = join(root, 'work');
  const outcome = await pretrain({ config, out, work, maxSteps: 8, batchSize: 4, context: 32, lr: 1e-2, seed: 3 });
  assert.equal(outcome.result.status, 'completed');
  assert.equal(outcome.steps, 8);
  const model = await loadPretrained(out, { task: 'causal-lm' });
  // 257·16 embedding (tied) + 2 layers × (4·16·16 attention + 3·16·40 MLP + 2·16 norms) + 16 final norm
  const expected = 257 * 16 + 2 * (4 * 16 * 16 + 3 * 16 * 40 + 2 * 16) + 16;
  assert.equal([...model.namedParameters().values()].reduce((n, v) => n + v.size, 0), expected);
  assert.equal(outcome.params, expected);
  model.dispose();
  const evals = (await readMetrics(join(work, 'run', METRICS_FILE))).filter((l) => l.eval).map((l) => l.eval!.loss);
  assert.ok(evals.length >= 2);
  assert.ok(evals[evals.length - 1] < evals[0], `validation loss ${evals[0]} → ${evals[evals.length - 1]}`);
  const card = readFileSync(join(out, MODEL_CARD_FILE), 'utf8');
  assert.match(card, /@stdlib\/datasets-moby-dick@/);
  assert.match(card, new RegExp(`parameters \\| ${expected.toLocaleString('en-US')}`));
  assert.ok(existsSync(join(out, 'tokenizer.json')));
  await assert.rejects(pretrain({ config, out, work, maxSteps: 8, batchSize: 4, context: 32 }), /already holds a pretraining run/);
});

test('pretrain --resume continues a killed run from its checkpoint to the same step count', async () => {
  const root = tempDir('lorapro-pretrain-resume-');
  const config = join(root, 'config.json');
  writeFileSync(config, JSON.stringify(TINY_BYTE_CONFIG));
  const o = { config, out: join(root, 'model'), work: join(root, 'work'), maxSteps: 6, batchSize: 4, context: 32, seed: 1 };
  const kill = new Error('killed');
  await assert.rejects(pretrain(o, { onStep: (step) => { if (step === 3) throw kill; } }), /killed/);
  assert.ok(!existsSync(join(o.out, 'model.safetensors')));
  const logged: string[] = [];
  const outcome = await pretrain({ ...o, maxSteps: undefined, resume: true }, { log: (l) => logged.push(l) });
  assert.equal(outcome.result.status, 'completed');
  assert.equal(outcome.result.steps, 6);
  assert.ok(logged.some((l) => /--resume: continuing the 6-step run/.test(l)));
  assert.deepEqual((await readMetrics(join(o.work, 'run', METRICS_FILE))).map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  assert.ok(existsSync(join(o.out, MODEL_CARD_FILE)));
});

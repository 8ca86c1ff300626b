// The memory check before a run (run/memory-check.ts) and `lorapro info`'s estimate, on a folder that
// holds only an 8 B-shaped config.json: `train` is refused at once (exit 2) with the figures and the
// ways out, before it reads anything but the config; `info` prints the estimate without building the
// model; a run that fits trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lmRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-memory-');
const big = join(root, 'llama-8b-shape');
mkdirSync(big);
writeFileSync(
  join(big, 'config.json'),
  JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, tie_word_embeddings: false, torch_dtype: 'bfloat16' }),
);
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(6, 3));

test('train refuses a run that cannot fit before loading anything: exit 2, the figures and the ways out', async () => {
  const started = Date.now();
  const { code, err } = await runCli('train', '--model', big, '--train', lm, '--task', 'causal-lm', '--method', 'lora-pro', '--lr', '1e-4', '--out', join(root, 'refused'));
  assert.equal(code, 2, err);
  assert.match(err, /cannot fit/);
  assert.match(err, /wasm heap needs [\d.]+ GiB by the estimate, over the 3\.20 GiB it allows itself of the heap's 4\.00 GiB ceiling/);
  assert.match(err, /optimizer: m×n Adam moments\s+52\.\d+ GiB/); // 2 · Σ m·n over 224 layers · 4 bytes
  assert.match(err, /LORAPRO_MEMORY_CHECK=off/);
  assert.doesNotMatch(err, /config\.json:/);
  assert.ok(Date.now() - started < 30_000, 'refused at once');
});

test('info prints the estimate of an 8 B model from its config.json alone, per method and in parts', async () => {
  const all = await runCli('info', '--model', big, '--batch-size', '1', '--max-length', '128');
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /parameters: 8\.03 B/);
  assert.match(all.out, /memory of a run at batch 1 × 128 tokens/);
  assert.match(all.out, /lora-pro\s+[\d.]+ GiB.*\bno\b/);
  const one = await runCli('info', '--model', big, '--method', 'lora', '--quantize', 'nf4', '--batch-size', '1', '--max-length', '128', '--gradient-checkpointing');
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /memory estimate: lora, batch 1 × 128 tokens, gradient checkpointing/);
  assert.match(one.out, /activations: each block's input/);
  const bad = await runCli('info', '--model', big, '--quantize', 'int4');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--quantize must be one of none, int8, nf4, nf4-dq, got "int4"/);
});

test('a run that fits passes the check and trains', async () => {
  const model = await writeTinyModel(join(root, 'tiny'), 'llama');
  const { code, out, err } = await runCli('train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '1e-3', '--max-steps', '1', '--batch-size', '2', '--gradient-checkpointing', '--out', join(root, 'fits'));
  assert.equal(code, 0, err);
  assert.match(out, /lora: 1 steps/);
});

// The memory check before a run (run/memory-check.ts) and `lorapro info`'s estimate, on a folder that
// holds only an 8 B-shaped config.json: `train`, `eval` and `generate` are refused at once (exit 2)
// with the figures and the ways out, before they read anything but the config (and the tokenizer);
// `info` prints the estimate without building the model; a run that fits trains. BERT- and T5-shaped
// folders get the same check and estimate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lmRecords, sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
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

// eval and generate are checked the same way, before their weights are loaded (run/memory-check.ts
// checkInferenceMemory); the folder holds the 8 B shape's config.json and a tiny model's tokenizer.
const bigWithTokenizer = join(root, 'llama-8b-shape-tokenizer');
mkdirSync(bigWithTokenizer);
writeFileSync(join(bigWithTokenizer, 'config.json'), readFileSync(join(big, 'config.json')));

test('eval refuses a batch that cannot fit before loading anything: exit 2, the figures and the ways out', async () => {
  const { code, err } = await runCli('eval', '--model', big, '--data', lm, '--task', 'causal-lm', '--batch-size', '64', '--max-length', '4096');
  assert.equal(code, 2, err);
  assert.match(err, /lorapro eval: .*cannot fit: the wasm heap needs [\d.]+ GiB by the estimate/);
  assert.match(err, /memory estimate: eval, batch 64 × 4096 tokens/);
  assert.match(err, /activations and logits\s+[\d.]+ GiB/);
  assert.match(err, /ways out|no change of batch, length or quantization fits/);
  assert.match(err, /LORAPRO_MEMORY_CHECK=off/);
});

test('generate refuses a KV cache that cannot fit before loading anything: exit 2, the cache in the figures', async () => {
  const tiny = await writeTinyModel(join(root, 'tiny-tokenizer'), 'llama');
  for (const f of readdirSync(tiny).filter((f) => f.startsWith('tokenizer'))) copyFileSync(join(tiny, f), join(bigWithTokenizer, f));
  const { code, err } = await runCli('generate', '--model', bigWithTokenizer, '--prompt', 'the cat', '--max-new-tokens', '200000');
  assert.equal(code, 2, err);
  assert.match(err, /cannot fit/);
  // 2 × 33 layers (one's old and new during the append) × 8 heads × 200,00x positions × 128 × 4 bytes
  assert.match(err, /KV cache\s+(5[0-9]|6[0-9])\.\d+ GiB/);
  assert.match(err, /--max-new-tokens \d+ \(the most that fits\): heap/);
});

// BERT and T5: the estimate from config.json alone; the whole base on the heap
const bertLarge = join(root, 'bert-large-shape');
mkdirSync(bertLarge);
writeFileSync(join(bertLarge, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertForSequenceClassification'], vocab_size: 30522, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, max_position_embeddings: 512 }));
const t5Base = join(root, 't5-base-shape');
mkdirSync(t5Base);
writeFileSync(join(t5Base, 'config.json'), JSON.stringify({ model_type: 't5', architectures: ['T5ForConditionalGeneration'], vocab_size: 32128, d_model: 768, d_kv: 64, d_ff: 2048, num_layers: 12, num_heads: 12, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false }));
const cls = writeJsonl(join(root, 'cls.jsonl'), sentimentRecords(6, 1));

test('train refuses a BERT run that cannot fit, up front: exit 2, activations in the figures, no checkpointing offered', async () => {
  const { code, err } = await runCli('train', '--model', bertLarge, '--train', cls, '--task', 'classification', '--method', 'lora', '--lr', '1e-4', '--batch-size', '64', '--max-length', '512', '--out', join(root, 'bert-refused'));
  assert.equal(code, 2, err);
  assert.match(err, /cannot fit: the wasm heap needs/);
  assert.match(err, /activations: 24 blocks kept, one block's gradients\s+[\d.]+ GiB/);
  assert.match(err, /--batch-size \d+ \(and --grad-accum \d+ for the same batch\): heap/);
  assert.doesNotMatch(err, /--gradient-checkpointing/);
});

test('info prints the estimate of a BERT and a T5 from their config.json', async () => {
  const bert = await runCli('info', '--model', bertLarge, '--method', 'lora', '--batch-size', '8', '--max-length', '128');
  assert.equal(bert.code, 0, bert.err);
  assert.match(bert.out, /memory estimate: lora, batch 8 × 128 tokens/);
  assert.match(bert.out, /base: every weight\s+1\.\d+ GiB\s+wasm heap/); // 335 M parameters × 4 bytes
  const t5 = await runCli('info', '--model', t5Base, '--batch-size', '8', '--max-length', '128');
  assert.equal(t5.code, 0, t5.err);
  assert.match(t5.out, /memory of a run at batch 8 × 128 tokens/);
  assert.match(t5.out, /lora-pro\s+[\d.]+ (GiB|MiB)/);
});

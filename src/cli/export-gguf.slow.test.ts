// `lorapro export gguf` checked against a real llama.cpp client, node-llama-cpp (prebuilt llama.cpp,
// offline): exported files load, tokenize as lorapro does and compute the same next-token
// log-probabilities; q8_0 keeps the text's log-likelihood within 1 %; a GGUF LoRA adapter applied by
// llama.cpp on the base's GGUF gives the merged export's outputs. llama.cpp runs with an f32 KV cache
// (its default f16 cache alone moves log-probabilities by ~1e-2 even for an f32 model).
// Slow: run with `npm run test:slow`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaLogLevel, type Llama, type Token } from 'node-llama-cpp';
import { gguf } from '@huggingface/gguf';
import { injectLora } from '../adapters/inject.js';
import { loraConfig } from '../adapters/lora-config.js';
import { saveAdapter } from '../adapters/peft-files.js';
import { useBackend } from '../engine/backend.js';
import { tf } from '../engine/tf.js';
import { parseModelConfig } from '../io/hf-config.js';
import { bpeTokenizer, type BpeStyle } from '../io/testing-bpe.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { createModel } from '../models/auto.js';
import { generate } from '../models/generate.js';
import { randomInit } from '../models/layers.js';
import { loadPretrained, savePretrained } from '../models/pretrained.js';
import type { CausalLM } from '../models/types.js';
import { runCli } from './testing.js';

await useBackend('cpu');
const BASE = fileURLToPath(new URL('../../models/lorapro-base', import.meta.url));
const root = await mkdtemp(join(tmpdir(), 'lorapro-gguf-slow-'));
after(() => rm(root, { recursive: true, force: true }));
const TEXT = "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, I thought I'd sail about a little.";
const llama: Llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });

async function exportTo(file: string, ...args: string[]): Promise<string> {
  const out = join(root, file);
  const r = await runCli('export', 'gguf', ...args, '--out', out);
  assert.equal(r.code, 0, r.err);
  return out;
}

/** llama.cpp's log p(next token) over the vocabulary after each of `ids`. */
async function llamaCppLogProbs(file: string, ids: readonly number[], lora?: string): Promise<number[][]> {
  const model = await llama.loadModel({ modelPath: file });
  const context = await model.createContext({
    contextSize: 256, batchSize: 256, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
    lora: lora ? { adapters: [{ filePath: lora }] } : undefined,
  });
  try {
    const sampling = { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } as const;
    const out = await context.getSequence().controlledEvaluate(ids.map((t) => [t as Token, { generateNext: sampling }]));
    return out.map((o) => {
      const row: number[] = [];
      for (const [t, p] of o!.next.probabilities!) row[t] = Math.log(p);
      return Array.from(row, (v) => v ?? -Infinity);
    });
  } finally {
    await context.dispose();
  }
}

function lorapropLogProbs(model: CausalLM, ids: readonly number[]): number[][] {
  return tf.tidy(() => (tf.logSoftmax(model.logits(tf.tensor2d([[...ids]], [1, ids.length], 'int32'))).arraySync() as number[][][])[0]);
}

/** max |Δ log p| over the tokens lorapro gives at least 1e-4. */
function maxLogProbGap(a: number[][], b: number[][]): number {
  let gap = 0;
  for (let i = 0; i < b.length; i++) for (let t = 0; t < b[i].length; t++) if (b[i][t] > Math.log(1e-4)) gap = Math.max(gap, Math.abs(a[i][t] - b[i][t]));
  return gap;
}

/** Σ log p(ids[i+1] | ids[..i]). */
const logLikelihood = (logp: number[][], ids: readonly number[]): number => ids.slice(1).reduce((s, t, i) => s + logp[i][t], 0);

test('the shipped base as f16: loads, tokenizes as lorapro, next-token log-probs within 1e-2, 32 greedy tokens identical; q8_0 keeps the log-likelihood within 1 %', async (t) => {
  const tok = await loadTokenizer(BASE);
  const ids = tok.encode(TEXT, { addSpecialTokens: false });
  const f16 = await exportTo('base-f16.gguf', '--model', BASE);
  const model = await loadPretrained(BASE, { task: 'causal-lm' });
  try {
    const ref = lorapropLogProbs(model, ids);
    const got = await llamaCppLogProbs(f16, ids);
    const llamaModel = await llama.loadModel({ modelPath: f16 });
    assert.deepEqual(llamaModel.tokenize(TEXT), ids, 'tokenization');
    const gap = maxLogProbGap(got, ref);
    t.diagnostic(`f16: max |Δ log p| ${gap.toExponential(2)} over ${ids.length} positions`);
    assert.ok(gap < 1e-2, `f16 log-probs differ by ${gap}`);

    const prompt = ids.slice(0, 12);
    const ours = await generate(model, prompt, { maxNewTokens: 32, eosTokenId: [] });
    const context = await llamaModel.createContext({ contextSize: 128, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
    const theirs: number[] = [];
    for await (const token of context.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
      theirs.push(token as number);
      if (theirs.length === 32) break;
    }
    await context.dispose();
    assert.deepEqual(theirs, ours.ids, 'greedy continuation');

    const q8 = await exportTo('base-q8_0.gguf', '--model', BASE, '--type', 'q8_0');
    const llF16 = logLikelihood(got, ids);
    const llQ8 = logLikelihood((await llamaCppLogProbs(q8, ids)), ids);
    const change = Math.abs(llQ8 - llF16) / Math.abs(llF16);
    t.diagnostic(`log-likelihood of the text: lorapro ${logLikelihood(ref, ids).toFixed(3)}, f16 ${llF16.toFixed(3)}, q8_0 ${llQ8.toFixed(3)} (${(100 * change).toFixed(3)} %)`);
    assert.ok(change < 0.01, `q8_0 changes the log-likelihood by ${100 * change} %`);
    const q4 = await exportTo('base-q4_0.gguf', '--model', BASE, '--type', 'q4_0');
    t.diagnostic(`q4_0 log-likelihood ${logLikelihood((await llamaCppLogProbs(q4, ids)), ids).toFixed(3)}`); // loads; no bound claimed
  } finally {
    model.dispose();
  }
});

test('a LoRA adapter: llama.cpp applying the GGUF adapter on the base GGUF gives the merged export, and lorapro with the adapter', async (t) => {
  const model = await loadPretrained(BASE, { task: 'causal-lm' });
  const adapterDir = join(root, 'adapter');
  try {
    // Both factors random (init false), every linear layer (q/k included: lora_b gets Llama's permutation),
    // rsLoRA so llama.cpp's alpha / r differs from PEFT's s and B carries the ratio.
    injectLora(model, loraConfig({ r: 4, loraAlpha: 8, useRslora: true, targetModules: 'all-linear', initLoraWeights: false, seed: 7, taskType: 'CAUSAL_LM' }));
    await saveAdapter(model, adapterDir);
    const tok = await loadTokenizer(BASE);
    const ids = tok.encode(TEXT, { addSpecialTokens: false });
    const ref = lorapropLogProbs(model, ids);
    const base = await exportTo('base-f32.gguf', '--model', BASE, '--type', 'f32');
    const merged = await exportTo('merged-f32.gguf', '--model', BASE, '--adapter', adapterDir, '--type', 'f32');
    const lora = await exportTo('lora-f32.gguf', '--model', BASE, '--adapter', adapterDir, '--adapter-only', '--type', 'f32');
    const { metadata } = await gguf(lora, { allowLocalFile: true });
    const meta = metadata as unknown as Record<string, unknown>;
    assert.deepEqual([meta['general.type'], meta['adapter.type'], meta['adapter.lora.alpha']], ['adapter', 'lora', 8]);
    const viaMerged = (await llamaCppLogProbs(merged, ids));
    const viaLora = (await llamaCppLogProbs(base, ids, lora));
    const plain = (await llamaCppLogProbs(base, ids));
    const gaps = { loraVsMerged: maxLogProbGap(viaLora, viaMerged), mergedVsLorapro: maxLogProbGap(viaMerged, ref), baseVsLorapro: maxLogProbGap(plain, ref) };
    t.diagnostic(`max |Δ log p|: adapter on base vs merged ${gaps.loraVsMerged.toExponential(2)}, merged vs lorapro+adapter ${gaps.mergedVsLorapro.toExponential(2)}, base without adapter vs lorapro+adapter ${gaps.baseVsLorapro.toExponential(2)}`);
    assert.ok(gaps.baseVsLorapro > 0.1, 'the adapter changes the outputs (else the check below proves nothing)');
    assert.ok(gaps.loraVsMerged < 1e-3, `adapter vs merged: ${gaps.loraVsMerged}`);
    assert.ok(gaps.mergedVsLorapro < 1e-3, `merged vs lorapro: ${gaps.mergedVsLorapro}`);
  } finally {
    model.dispose();
  }
});

/** Small random models with a byte-level BPE tokenizer built by the test (merges learned from text). */
// f32 bound: the Llama family matches to float rounding; llama.cpp's CPU GELU reads its input as an f16
// and looks the result up in a table (ggml-cpu/vec.h, GGML_GELU_FP16), so GPT-2 differs by ~1e-3 even in f32.
const RANDOM: { arch: string; style: BpeStyle; f32Bound?: number; config: Record<string, unknown> }[] = [
  { arch: 'llama (GQA, Llama 3 RoPE scaling)', style: 'llama-bpe', config: { model_type: 'llama', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 }, tie_word_embeddings: false } },
  { arch: 'qwen2 (q/k/v biases, tied, linear RoPE)', style: 'qwen2', config: { model_type: 'qwen2', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, max_position_embeddings: 256, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_scaling: { rope_type: 'linear', factor: 2 }, tie_word_embeddings: true } },
  { arch: 'mistral', style: 'smollm', config: { model_type: 'mistral', hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, sliding_window: null, tie_word_embeddings: false } },
  { arch: 'gpt2', style: 'gpt-2', f32Bound: 5e-3, config: { model_type: 'gpt2', n_embd: 64, n_layer: 2, n_head: 4, n_positions: 256, tie_word_embeddings: true } },
];

for (const r of RANDOM) {
  test(`a random ${r.arch} with a ${r.style} tokenizer.json: GGUF tokenizes as lorapro; next-token log-probs within ${r.f32Bound ?? 1e-3} (f32) and 1e-2 (f16)`, async (t) => {
    const dir = join(root, r.style);
    const bpe = bpeTokenizer(r.style, `${TEXT} ${TEXT.toUpperCase()} 1234567 ${TEXT}`);
    const config = parseModelConfig({ ...r.config, vocab_size: bpe.vocabSize + 2, eos_token_id: bpe.eosTokenId, bos_token_id: bpe.bosTokenId ?? bpe.eosTokenId }, r.arch);
    const model = createModel(config, { task: 'causal-lm', init: randomInit(5, 0.1) });
    try {
      await savePretrained(model, dir);
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(bpe.tokenizerJson));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(bpe.tokenizerConfig));
      const tok = await loadTokenizer(dir);
      const text = `${TEXT} I've 2024 ideas; they'RE here.\n\n  Yes!`;
      const ids = tok.encode(text);
      const file = await exportTo(`${r.style}.gguf`, '--model', dir);
      const f32 = await exportTo(`${r.style}-f32.gguf`, '--model', dir, '--type', 'f32');
      const llamaModel = await llama.loadModel({ modelPath: file });
      const theirs = llamaModel.tokenize(text);
      const plain = tok.encode(text, { addSpecialTokens: false });
      assert.deepEqual(theirs, plain, 'tokenization');
      assert.ok(plain.length < text.length, 'the merges are used');
      const ref = lorapropLogProbs(model, ids);
      const exact = maxLogProbGap(await llamaCppLogProbs(f32, ids), ref);
      const gap = maxLogProbGap(await llamaCppLogProbs(file, ids), ref);
      t.diagnostic(`${r.arch}: ${plain.length} tokens for ${text.length} characters, max |Δ log p| f32 ${exact.toExponential(2)}, f16 ${gap.toExponential(2)}`);
      assert.ok(exact < (r.f32Bound ?? 1e-3), `f32 log-probs differ by ${exact}`);
      assert.ok(gap < 1e-2, `f16 log-probs differ by ${gap}`);
    } finally {
      model.dispose();
    }
  });
}

// The eval / generate estimate (memory-inference.ts) against the wasm heap's real peak: the backend's
// allocations counted by engine/heap.ts from after the model is loaded (so: activations, logits, the
// KV cache) while eval's forward (train/evaluate.ts) or generate runs on small generated models; the
// estimate's activation parts must agree within 25 %. The Llama runs from a folder, as `lorapro eval`
// loads it (loadTrained, the frozen tier where the native engine has it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { useBackend } from '../engine/backend.js';
import { nativeOpsOn } from '../engine/fused.js';
import { frozenTierNative } from '../engine/frozen.js';
import { meterWasmHeap } from '../engine/heap.js';
import type { RunExample } from '../data/batches.js';
import { parseModelConfig, type ModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { generate } from '../models/generate.js';
import { randomInit } from '../models/layers.js';
import { savePretrained } from '../models/pretrained.js';
import type { AnyModel, CausalLM } from '../models/types.js';
import { setTextToTextLabels } from '../models/t5-classifier.js';
import { evaluate } from './evaluate.js';
import { ACTIVATION_PARTS, estimateInference, type InferenceEstimate, type InferenceRequest } from './memory-inference.js';
import { modelShape } from './memory-stacks.js';
import { loadTrained } from './run-model.js';
import { tempDir, writeTinyModel } from './testing.js';

const V = 512;
/** The default engine (native where it was built: fused softmax and SwiGLU) and plain wasm (the op-by-op route). */
const ENGINES = ['default', 'wasm'] as const;
const CONFIGS: Record<string, Record<string, unknown>> = {
  llama: { model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: V, hidden_size: 64, intermediate_size: 176, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: false, bos_token_id: 2, eos_token_id: 3, pad_token_id: 0 },
  gpt2: { model_type: 'gpt2', vocab_size: V, n_positions: 256, n_embd: 64, n_layer: 3, n_head: 4, pad_token_id: 0 },
  bert: { model_type: 'bert', vocab_size: V, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 256 },
  t5: { model_type: 't5', vocab_size: V, d_model: 64, d_kv: 16, d_ff: 160, num_layers: 3, num_heads: 4, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, eos_token_id: 1 },
};

const config = (arch: string): ModelConfig => parseModelConfig(CONFIGS[arch], `small ${arch}`);

/** B examples of exactly T tokens (eval pads a batch to its longest; equal lengths make it T). */
function examples(task: AnyModel['task'], B: number, T: number): RunExample[] {
  return Array.from({ length: B }, (_, b) => {
    const ids = Array.from({ length: T }, (_, t) => 4 + ((7 * b + 13 * t) % (V - 4)));
    return task === 'causal-lm' ? { ids, labels: ids, line: b + 1 } : { ids, label: b % 2, line: b + 1 };
  });
}

function activationBytes(est: InferenceEstimate): number {
  return est.parts.filter((p) => ACTIVATION_PARTS.test(p.name)).reduce((n, p) => n + p.bytes, 0);
}

const request = (o: Partial<InferenceRequest> & Pick<InferenceRequest, 'task' | 'batchSize' | 'inputLength'>): InferenceRequest => ({
  command: 'eval', quantize: 'none', checkpointFormat: 'f32', frozenTier: false, newTokens: 0, adapterBytes: 0, fused: nativeOpsOn(), ...o,
});

/** Peak heap bytes allocated while `run` goes, above what was live before it. */
async function metered(run: () => Promise<unknown>): Promise<number> {
  const meter = meterWasmHeap();
  try {
    await run();
    return meter.peak();
  } finally {
    meter.stop();
  }
}

function assertWithin(estimated: number, measured: number, what: string): void {
  const ratio = estimated / measured;
  console.log(`${what}: estimate ${estimated} vs metered ${measured} bytes (ratio ${ratio.toFixed(2)})`);
  assert.ok(ratio > 0.75 && ratio < 1.25, `${what}: estimated activations ${estimated} vs metered peak ${measured} bytes (ratio ${ratio.toFixed(2)})`);
}

let llamaDir: string | undefined;

/** A Llama folder with CONFIGS.llama's shape (tokenizer files from the tiny model's). */
async function smallLlamaFolder(): Promise<string> {
  if (llamaDir) return llamaDir;
  const dir = await writeTinyModel(join(tempDir('lorapro-inference-'), 'llama'), 'llama');
  const model = createModel(config('llama'), { task: 'causal-lm', init: randomInit(1, 0.05) });
  try {
    await savePretrained(model, dir);
  } finally {
    model.dispose();
  }
  return (llamaDir = dir);
}

for (const engine of ENGINES) {
for (const [B, T] of [[4, 32], [2, 128]] as const) {
  test(`[${engine}] eval of a Llama folder at ${B} × ${T}: the estimated activations agree with the heap meter within 25 %`, async () => {
    await useBackend(engine === 'default' ? undefined : engine);
    const trained = await loadTrained({ model: await smallLlamaFolder(), task: 'causal-lm', log: () => {}, quantize: 'auto' });
    try {
      const measured = await metered(() => evaluate(trained.model, examples('causal-lm', B, T), B, 0));
      const est = estimateInference(modelShape(config('llama'))!, request({ task: 'causal-lm', batchSize: B, inputLength: T, frozenTier: frozenTierNative() }));
      assertWithin(activationBytes(est), measured, `[${engine}] llama eval ${B}×${T}`);
    } finally {
      trained.model.dispose();
      await useBackend();
    }
  });
}

for (const arch of ['gpt2', 'bert', 't5']) {
  for (const [B, T] of [[4, 32], [2, 128]] as const) {
    test(`[${engine}] eval of a ${arch} at ${B} × ${T}: the estimated activations agree with the heap meter within 25 %`, async () => {
      await useBackend(engine === 'default' ? undefined : engine);
      const task = arch === 'gpt2' ? 'causal-lm' : 'sequence-classification';
      const model = createModel(config(arch), { task, init: randomInit(1, 0.05) });
      if (arch === 't5') setTextToTextLabels(model, ['no', 'yes'], { encode: (text: string) => (text === 'no' ? [5, 6, 7] : [8, 9, 10]), eosTokenId: 1 });
      try {
        const measured = await metered(() => evaluate(model, examples(task, B, T), B, 0));
        const est = estimateInference(modelShape(config(arch))!, request({ task, batchSize: B, inputLength: T, numLabels: 2 }));
        assertWithin(activationBytes(est), measured, `[${engine}] ${arch} eval ${B}×${T}`);
      } finally {
        model.dispose();
        await useBackend();
      }
    });
  }
}

test(`[${engine}] generate with a Llama folder: activations, KV cache and logits agree with the heap meter within 25 %`, async () => {
  await useBackend(engine === 'default' ? undefined : engine);
  const trained = await loadTrained({ model: await smallLlamaFolder(), task: 'causal-lm', log: () => {}, quantize: 'auto' });
  try {
    const prompt = Array.from({ length: 48 }, (_, t) => 4 + ((13 * t) % (V - 4)));
    const measured = await metered(() => generate(trained.model as CausalLM, prompt, { maxNewTokens: 160, stopAtEos: false }));
    const est = estimateInference(modelShape(config('llama'))!, request({ command: 'generate', task: 'causal-lm', batchSize: 1, inputLength: 48, newTokens: 160, frozenTier: frozenTierNative() }));
    assertWithin(activationBytes(est), measured, `[${engine}] llama generate 48 + 160`);
  } finally {
    trained.model.dispose();
    await useBackend();
  }
});
}

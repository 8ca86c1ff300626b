// The BERT / T5 estimate (memory-stacks.ts): its parameter counts from config.json equal run-memory's
// counts of the built model; what a LoRA training step holds above the loaded model and its optimiser
// state (the activations its forward keeps, the logits, the small gradients) agrees with the heap meter
// within 25 %;
// the whole run (built model, state, steps) within 1.5x, as the decoders' test holds theirs; and the
// ways out of an impossible run never offer checkpointing, which these models do not implement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { meterWasmHeap } from '../engine/heap.js';
import { hostAdamOn } from '../engine/fused.js';
import type { HostBatch } from '../data/batches.js';
import { parseModelConfig, type ModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { setTextToTextLabels } from '../models/t5-classifier.js';
import type { AnyModel } from '../models/types.js';
import { memoryProblems, waysOutOf, type MemoryRequest } from './memory-estimate.js';
import { countsFromStack, estimateStackMemory, modelShape, type StackShape } from './memory-stacks.js';
import { headModules, setupMethod, type MethodName } from './methods.js';
import { countParameters } from './run-memory.js';
import { optimizerStep } from './step.js';

const V = 512;
const CONFIGS: Record<string, Record<string, unknown>> = {
  bert: { model_type: 'bert', vocab_size: V, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 256 },
  roberta: { model_type: 'roberta', vocab_size: V, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 258, type_vocab_size: 1, pad_token_id: 1 },
  't5 gated': { model_type: 't5', vocab_size: V, d_model: 64, d_kv: 16, d_ff: 160, num_layers: 3, num_heads: 4, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false, eos_token_id: 1 },
  't5 relu': { model_type: 't5', vocab_size: V, d_model: 64, d_kv: 8, d_ff: 128, num_layers: 2, num_decoder_layers: 3, num_heads: 4, feed_forward_proj: 'relu', eos_token_id: 1 },
};

const config = (name: string): ModelConfig => parseModelConfig(CONFIGS[name], `small ${name}`);
const shapeOf = (name: string) => modelShape(config(name)) as StackShape;

function build(name: string): AnyModel {
  const model = createModel(config(name), { task: 'sequence-classification', numLabels: 2, init: randomInit(1, 0.05) });
  if (name.startsWith('t5')) setTextToTextLabels(model, ['no', 'yes'], { encode: (text: string) => (text === 'no' ? [5, 6, 7] : [8, 9, 10]), eosTokenId: 1 });
  return model;
}

test('BERT, RoBERTa and T5 parameter counts from config.json equal the counts of the built model', async () => {
  await useBackend();
  for (const name of Object.keys(CONFIGS)) {
    for (const targetModules of ['all-linear', 'peft', ['value', 'output.dense', 'k', 'wo']] as const) {
      const model = build(name);
      try {
        const built = countParameters(model, { rank: 4, alpha: 8, targetModules, modulesToSave: headModules(model) });
        const { maxAdaptedWeight: _m, ...fromConfig } = countsFromStack(shapeOf(name), { rank: 4, targetModules, numLabels: 2 });
        assert.deepEqual(fromConfig, built, `${name} ${JSON.stringify(targetModules)}`);
      } finally {
        model.dispose();
      }
    }
  }
});

const B = 4;
const T = 64;

function batch(name: string): HostBatch {
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => 4 + ((7 * b + 13 * t) % (V - 4))));
  return { ids, mask: ids.map((r) => r.map(() => 1)), classLabels: ids.map((_, b) => b % 2), tokens: B * T, lossWeight: B, ...(name === 'bert' ? { typeIds: ids.map((r) => r.map(() => 0)) } : {}) };
}

/** Peak heap bytes of the whole run (model built, method set up, three steps) and of the third step alone. */
async function measuredPeaks(name: string, method: MethodName): Promise<{ run: number; step: number }> {
  const meter = meterWasmHeap();
  const model = build(name);
  const setup = setupMethod(model, { method, rank: 4, alpha: 8, targetModules: 'all-linear', loraDropout: 0, modulesToSave: headModules(model), seed: 0, lr: 1e-3, weightDecay: 0 });
  try {
    for (let i = 0; i < 2; i++) tf.dispose((await optimizerStep(model, setup, [batch(name)], 1e-3)).loss);
    const step = meterWasmHeap();
    try {
      tf.dispose((await optimizerStep(model, setup, [batch(name)], 1e-3)).loss);
      return { run: meter.peak(), step: step.peak() };
    } finally {
      step.stop();
    }
  } finally {
    meter.stop();
    setup.optimizer.dispose();
    model.dispose();
  }
}

const request = (method: MethodName): MemoryRequest => ({
  method, rank: 4, targetModules: 'all-linear', task: 'sequence-classification', numLabels: 2, quantize: 'none', batchSize: B, maxLength: T, gradientCheckpointing: false, checkpointFormat: 'f32', frozenTier: false,
  momentsOutsideHeap: hostAdamOn(),
});

/** What a step adds: the parts that are not the model or the optimiser's standing state. */
const STEP_PARTS = /^(activations|logits|gradients|DoRA|optimizer step)/;

for (const engine of ['default', 'wasm'] as const) {
  for (const name of ['bert', 't5 gated', 't5 relu']) {
    for (const method of ['lora', 'full', 'lora-pro'] as const) {
      test(`[${engine}] ${name} ${method}: a step's activations (adapter methods) within 25 % of the heap meter, the run within 1.5x`, async () => {
        await useBackend(engine === 'default' ? undefined : engine);
        try {
          const measured = await measuredPeaks(name, method);
          const est = estimateStackMemory(shapeOf(name), request(method));
          const step = est.parts.filter((p) => STEP_PARTS.test(p.name) && p.place === 'heap').reduce((n, p) => n + p.bytes, 0);
          const stepRatio = step / measured.step;
          const runRatio = est.heapBytes / measured.run;
          console.log(`[${engine}] ${name} ${method}: step estimate ${step} vs metered ${measured.step} (ratio ${stepRatio.toFixed(2)}); run ${est.heapBytes} vs ${measured.run} (ratio ${runRatio.toFixed(2)})`);
          // full fine-tuning's gradients are as large as the model: the backward frees a block's activations as it
          // makes its gradients, so the two never peak together and their sum is an upper bound (1.2-1.3x here)
          if (method !== 'full') assert.ok(stepRatio > 0.75 && stepRatio < 1.25, `step: estimate ${step} vs metered ${measured.step} bytes (ratio ${stepRatio.toFixed(2)})`);
          assert.ok(runRatio > 1 / 1.5 && runRatio < 1.5, `run: estimate ${est.heapBytes} vs metered ${measured.run} bytes (ratio ${runRatio.toFixed(2)})`);
        } finally {
          await useBackend();
        }
      });
    }
  }
}

test('ways out of a BERT run that cannot fit: smaller batches or lengths, never checkpointing or quantizing', () => {
  const large = parseModelConfig({ model_type: 'bert', vocab_size: 30522, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, max_position_embeddings: 512 }, 'bert-large shape');
  const shape = modelShape(large) as StackShape;
  const limits = { heapBytes: 4294901760, machineBytes: 64e9 };
  const asked: MemoryRequest = { ...request('lora'), batchSize: 64, maxLength: 512 };
  const estimate = (r: MemoryRequest) => estimateStackMemory(shape, r);
  assert.ok(memoryProblems(estimate(asked), limits).length > 0, 'bert-large at 64 × 512 exceeds the heap');
  const ways = waysOutOf(estimate, asked, limits);
  assert.ok(ways.some((w) => w.startsWith('--batch-size')), ways.join('\n'));
  assert.ok(!ways.some((w) => /--gradient-checkpointing|--quantize/.test(w)), ways.join('\n'));
});

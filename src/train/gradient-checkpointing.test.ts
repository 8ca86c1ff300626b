// Gradient checkpointing (models/decoder.ts runBlocks, engine/checkpoint.ts): the same loss and gradients as
// the run that keeps every activation, on GPT-2 (with hidden, attention and LoRA dropout, whose masks
// the recomputation must replay) and Llama, for LoRA and full fine-tuning; the forward pass holds
// fewer bytes under the tape; a steady-state step leaves no tensor behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { freeAsBackpropGoes } from '../engine/tape.js';
import { injectLora, setTraining } from '../adapters/inject.js';
import { loraConfig } from '../adapters/lora-config.js';
import { parseModelConfig } from '../io/hf-config.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import type { CausalLM } from '../models/types.js';
import { int2d } from '../models/testing.js';

const CONFIGS = {
  gpt2: () => parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_positions: 24, n_embd: 16, n_layer: 4, n_head: 2, pad_token_id: 0 }, 'tiny gpt2'),
  llama: () =>
    parseModelConfig(
      { model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true },
      'tiny llama',
    ),
};
const IDS = [
  [1, 5, 9, 13, 17, 21, 25, 29],
  [2, 4, 6, 8, 10, 12, 0, 0],
];
const MASK = IDS.map((r, b) => r.map((_, i) => (b === 1 && i >= 6 ? 0 : 1)));
const LABELS = IDS.map((r, b) => r.map((t, i) => (MASK[b][i] ? t : -100)));

type Arch = keyof typeof CONFIGS;

function makeModel(arch: Arch, method: 'lora' | 'full', checkpointing: boolean): CausalLM {
  const dropout = arch === 'gpt2' ? { hidden: 0.1, attention: 0.1 } : undefined; // Llama has none
  const model = createModel(CONFIGS[arch](), { task: 'causal-lm', init: randomInit(5, 0.2), dropout, dropoutSeed: 3 }) as CausalLM & { gradientCheckpointing: boolean };
  if (method === 'lora') {
    injectLora(model, loraConfig({ r: 2, loraAlpha: 4, targetModules: 'all-linear', loraDropout: 0.2, initLoraWeights: false, seed: 9 }));
    setTraining(model, true);
  }
  model.gradientCheckpointing = checkpointing;
  return model;
}

/** Loss, gradients by parameter name, and the bytes the forward pass left live under the tape. */
async function step(model: CausalLM): Promise<{ loss: number; grads: Map<string, Float32Array>; forwardBytes: number }> {
  const params = model.trainableParameters();
  let forwardBytes = 0;
  const before = tf.memory().numBytes;
  const { value, grads } = tf.variableGrads(() => {
    const loss = model.loss(int2d(IDS), int2d(LABELS), int2d(MASK), { training: true });
    forwardBytes = tf.memory().numBytes - before;
    freeAsBackpropGoes();
    return loss;
  }, [...params.values()]);
  const out = new Map<string, Float32Array>();
  for (const [name, v] of params) out.set(name, (await grads[v.name].data()) as Float32Array);
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out, forwardBytes };
}

for (const engine of ['default', 'wasm'] as const) {
  for (const arch of ['gpt2', 'llama'] as const) {
    for (const method of ['lora', 'full'] as const) {
      test(`[${engine}] ${arch} ${method}: checkpointed gradients equal the kept-activation ones, with fewer bytes held after the forward`, async () => {
        await useBackend(engine === 'default' ? undefined : engine);
        const plain = makeModel(arch, method, false);
        const ckpt = makeModel(arch, method, true);
        try {
          for (let s = 0; s < 2; s++) {
            // two steps: the second draws dropout masks from where the first left the generators
            const a = await step(plain);
            const b = await step(ckpt);
            assert.equal(b.loss, a.loss, 'loss');
            assert.equal(b.grads.size, a.grads.size);
            for (const [name, g] of a.grads) {
              const h = b.grads.get(name)!;
              const scale = Math.max(...g.map(Math.abs));
              assert.ok(scale > 0, `${name} has a gradient`);
              const worst = Math.max(...g.map((x, i) => Math.abs(x - h[i]))) / scale;
              assert.ok(worst <= 1e-6, `${name}: relative difference ${worst}`);
            }
            assert.ok(b.forwardBytes < 0.7 * a.forwardBytes, `forward keeps ${b.forwardBytes} bytes with checkpointing vs ${a.forwardBytes}`);
          }
          const n = tf.memory().numTensors;
          await step(ckpt);
          assert.equal(tf.memory().numTensors, n, 'a steady-state checkpointed step leaves tensors behind');
        } finally {
          plain.dispose();
          ckpt.dispose();
          await useBackend();
        }
      });
    }
  }
}

test('checkpointing is off outside a gradient tape: evaluation gives the plain logits', async () => {
  const plain = makeModel('llama', 'full', false);
  const ckpt = makeModel('llama', 'full', true);
  try {
    const a = plain.logits(int2d(IDS));
    const b = ckpt.logits(int2d(IDS));
    assert.deepEqual(await b.data(), await a.data());
    tf.dispose([a, b]);
  } finally {
    plain.dispose();
    ckpt.dispose();
  }
});

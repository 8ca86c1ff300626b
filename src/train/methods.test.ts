import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../engine/backend.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { TINY } from '../models/testing.js';
import { checkMethod, headModules, METHODS, setupMethod, type MethodName, type MethodOptions } from './methods.js';
import { UsageError } from './errors.js';

const classifier = () => createModel(TINY.gpt2(), { task: 'sequence-classification', numLabels: 3, init: randomInit(3, 0.1) });

const options = (method: MethodName, over: Partial<MethodOptions> = {}): MethodOptions => ({
  method, rank: 4, alpha: 8, targetModules: ['c_attn'], loraDropout: 0, modulesToSave: ['score'], seed: 0, lr: 1e-3, weightDecay: 0, ...over,
});

// TINY gpt2: 2 blocks, c_attn [48, 16]; r = 4 → A [4, 16] + B [48, 4] = 256 per layer; score [3, 16] = 48.
const ADAPTER_TRAINABLE = 2 * (4 * 16 + 48 * 4) + 3 * 16;
const EXPECTED: Record<MethodName, { optimizer: string; scale: number }> = {
  full: { optimizer: 'adamw', scale: NaN },
  lora: { optimizer: 'adamw', scale: 8 / 4 },
  rslora: { optimizer: 'adamw', scale: 8 / Math.sqrt(4) },
  'lora-plus': { optimizer: 'lora-plus', scale: 2 },
  'lora-pro': { optimizer: 'lora-pro', scale: 2 },
  'lora-pro-efficient': { optimizer: 'lora-pro-efficient', scale: 2 },
  'lora-pro-sgd': { optimizer: 'lora-pro-sgd', scale: 2 },
  dora: { optimizer: 'adamw', scale: 2 },
  'lora-fa': { optimizer: 'lora-fa', scale: 2 },
};
// DoRA adds a magnitude [48] per layer; LoRA-FA freezes A [4, 16] per layer.
const EXTRA: Partial<Record<MethodName, number>> = { dora: 2 * 48, 'lora-fa': -2 * 4 * 16 };

for (const method of METHODS) {
  test(`method ${method}: trainable parameters, optimiser and adapter scale`, async () => {
    await useBackend('cpu');
    const model = classifier();
    const total = [...model.namedParameters().values()].reduce((n, v) => n + v.size, 0);
    const setup = setupMethod(model, options(method));
    try {
      const trainable = [...setup.params.values()].reduce((n, v) => n + v.size, 0);
      assert.equal(setup.optimizer.name, EXPECTED[method].optimizer);
      if (method === 'full') {
        assert.equal(trainable, total, 'full trains every parameter');
        assert.equal(setup.pairs.length, 0);
      } else {
        assert.equal(trainable, ADAPTER_TRAINABLE + (EXTRA[method] ?? 0), 'adapters plus the classification head');
        assert.deepEqual(setup.pairs.map((p) => p.module), ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']);
        assert.ok(setup.params.has('score.weight'), 'the head is in modules_to_save');
        assert.ok(Math.abs(setup.pairs[0].scale - EXPECTED[method].scale) < 1e-12, `scale ${setup.pairs[0].scale}`);
      }
    } finally {
      setup.optimizer.dispose();
      model.dispose();
    }
  });
}

test('headModules names the top-level classification head', async () => {
  await useBackend('cpu');
  const model = classifier();
  assert.deepEqual(headModules(model), ['score']);
  model.dispose();
});

test('an unknown method is a usage error listing every method', () => {
  assert.throws(() => checkMethod('qlora'), (e: Error) => e instanceof UsageError && METHODS.every((m) => e.message.includes(m)) && e.message.includes('"qlora"'));
});

test('a rank larger than a target layer is a usage error naming the layer', async () => {
  await useBackend('cpu');
  const model = classifier();
  try {
    assert.throws(() => setupMethod(model, options('lora', { rank: 32 })), (e: Error) => e instanceof UsageError && /c_attn/.test(e.message) && /rank 32 exceeds/.test(e.message));
  } finally {
    model.dispose();
  }
});

test('target modules that match nothing are a usage error listing the layers there are', async () => {
  await useBackend('cpu');
  const model = classifier();
  try {
    assert.throws(() => setupMethod(model, options('lora-pro', { targetModules: ['q_proj'] })), (e: Error) => e instanceof UsageError && /match no linear layer/.test(e.message) && /c_attn/.test(e.message));
  } finally {
    model.dispose();
  }
});

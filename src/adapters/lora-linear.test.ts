// What a LoRA layer's forward pass leaves on the tape, with the shape-only gradients of engine/shape-grads.ts:
// x, x·(s·A)ᵀ and s·A for the adapter, no [N, out] tensor (the base product, the adapter product, their sum).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { gradsAndSaved } from '../engine/kernels/test-utils.js';
import { Rng } from '../math/rng.js';
import { Linear } from '../models/linear.js';
import { LoraLinear } from './lora-linear.js';

test("a LoRA layer's tape keeps x, x·(s·A)ᵀ and s·A, no [N, out] tensor", async () => {
  await useBackend('cpu');
  const rng = new Rng(5);
  const lora = new LoraLinear(new Linear(12, 10, { rng }), { r: 3, alpha: 6, dropout: 0, useRslora: false, init: true, rng });
  const x = tf.variable(tf.randomNormal([64, 12]), true, `x${Math.random()}`);
  const { saved } = gradsAndSaved(() => tf.sum(lora.forward(x)) as tf.Scalar, [lora.A, lora.B]);
  const total = [...saved].filter(([k]) => k !== 'Sum').reduce((n, [, v]) => n + v, 0); // the loss's own Sum aside
  // base matMul: x and W0; s·A: A (its Mul); x·(s·A)ᵀ: x and s·A; its product with B: x·(s·A)ᵀ and B
  assert.equal(total, 64 * 12 + 10 * 12 + 3 * 12 + (64 * 12 + 3 * 12) + (64 * 3 + 10 * 3) + 1, `saved floats by kernel: ${JSON.stringify([...saved])}`);
  lora.dispose();
  x.dispose();
});

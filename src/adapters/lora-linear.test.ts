// What a LoRA layer's forward pass leaves on the tape, with the shape-only gradients of engine/shape-grads.ts:
// x, x·(s·A)ᵀ and s·A for the adapter, no [N, out] tensor (the base product, the adapter product, their sum).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { swiglu, swigluGrad } from '../engine/fused.js';
import { FrozenWeight } from '../engine/frozen.js';
import { assertSame, gradsAndSaved, savedBytes } from '../engine/kernels/test-utils.js';
import { nativeStatus } from '../engine/native.js';
import { FrozenLinear } from '../models/frozen-linear.js';
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

if (nativeStatus().available) {
  test('a LoRA down_proj on a frozen base, fed silu(gate)·up: the taped gradients exactly, keeping gate and up instead of the product', async () => {
    await useBackend('native');
    const [N, inF, out, r] = [12, 48, 16, 4];
    const rng = new Rng(11);
    const w = FrozenWeight.fromFloat32(Float32Array.from(rng.normalArray(out * inF, 0.2)), out, inF, 'bf16');
    const base = new FrozenLinear(inF, out, { bias: false, quantize: 'none' });
    base.replaceWeight(w);
    const lora = new LoraLinear(base, { r, alpha: 8, dropout: 0, useRslora: false, init: false, rng });
    const gate = tf.randomNormal([2, N / 2, inF], 0, 1, 'float32', 9);
    const up = tf.randomNormal([2, N / 2, inF], 0, 1, 'float32', 10);
    const dy = tf.randomNormal([2, N / 2, out], 0, 1, 'float32', 12);
    const fromParts = { make: ([g, u]: readonly tf.Tensor[]) => swiglu(g, u), grad: ([g, u]: readonly tf.Tensor[], dh: tf.Tensor) => swigluGrad(g, u, dh) };
    const remade = (g: tf.Tensor, u: tf.Tensor) => lora.forwardRemade({ parts: [g, u], ...fromParts })!;
    const taped = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
      save([g, u]);
      return { value: swiglu(g, u), gradFunc: (dh: tf.Tensor, [sg, su]: tf.Tensor[]) => swigluGrad(sg, su, dh) };
    }) as unknown as Parameters<typeof tf.customGrad>[0]) as (g: tf.Tensor, u: tf.Tensor) => tf.Tensor;
    const plain = (g: tf.Tensor, u: tf.Tensor) => lora.forward(taped(g, u));
    const run = (f: (g: tf.Tensor, u: tf.Tensor) => tf.Tensor) => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(gate, up), dy)) as tf.Scalar, [lora.A, lora.B]);
      return [value, ...tf.grads((g: tf.Tensor, u: tf.Tensor) => f(g, u))([gate, up], dy), grads[lora.A.name], grads[lora.B.name]];
    };
    const got = run(remade);
    const want = run(plain);
    await assertSame(got, want, 0, 'value, dgate, dup, dA, dB');
    const kept = savedBytes(() => remade(gate, up), [gate, up]);
    assert.equal(kept, 4 * (gate.size + up.size + lora.A.size + lora.B.size + N * r), 'gate, up, A, B and x·Aᵀ');
    const keptBefore = savedBytes(() => plain(gate, up), [gate, up]);
    assert.ok(keptBefore >= kept + 4 * gate.size, `the taped route also kept silu(gate)·up: ${keptBefore} vs ${kept} bytes`);
    // where it cannot keep the parts (dropout while training), it says so and forward is used
    const dropped = new LoraLinear(base, { r, alpha: 8, dropout: 0.1, useRslora: false, init: false, rng });
    dropped.training = true;
    assert.equal(dropped.forwardRemade({ parts: [gate, up], ...fromParts }), undefined);
    tf.dispose([gate, up, dy, ...got, ...want]);
    lora.dispose();
  });
}

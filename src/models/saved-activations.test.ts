// What a block keeps for its backward pass: rotary embeddings keep nothing but their tables, and
// attention keeps q, k and v (the probabilities are computed again). Each gives the gradients of the
// taped ops it replaces, and keeps less. (A LoRA down_proj's part: adapters/lora-linear.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { nativeStatus } from '../engine/native.js';
import { assertSame, savedBytes } from '../engine/kernels/test-utils.js';
import { attentionBias, scaledDotProductAttention } from './attention.js';
import { gatedActivation, silu } from './layers.js';
import { applyRope, ropeCosSinRange, ropeInvFreq, rotateHalf } from './rope.js';

const ENGINES = nativeStatus().available ? (['native', 'wasm', 'cpu'] as const) : (['wasm', 'cpu'] as const);

for (const engine of ENGINES) {
  test(`applyRope on ${engine}: the taped ops' value and gradient exactly, keeping only cos and sin`, async () => {
    await useBackend(engine);
    const [B, H, T, hd] = [2, 3, 5, 8];
    const x = tf.randomUniform([B, H, T, hd], -2, 2, 'float32', 3) as tf.Tensor4D;
    const dy = tf.randomUniform([B, H, T, hd], -1, 1, 'float32', 4) as tf.Tensor4D;
    const { cos, sin } = ropeCosSinRange(B, T, 2, ropeInvFreq(hd, 10000));
    const taped = (t: tf.Tensor) => tf.add(tf.mul(t, cos), tf.mul(rotateHalf(t as tf.Tensor4D), sin));
    const ours = (t: tf.Tensor) => applyRope(t as tf.Tensor4D, cos, sin);
    const got = [ours(x), tf.grad(ours)(x, dy)];
    const want = [taped(x), tf.grad(taped)(x, dy)];
    await assertSame(got, want, 0, 'rope');
    assert.equal(savedBytes(() => ours(x), [x]), 2 * 4 * cos.size, 'only the tables are kept');
    tf.dispose([x, dy, cos, sin, ...got, ...want]);
  });

  test(`scaledDotProductAttention on ${engine}: the gradients of softmax(q·kᵀ·s + bias)·v with grouped heads (and of a learned bias), keeping q, k and v`, async () => {
    await useBackend(engine);
    const [B, nH, nKV, T, hd] = [2, 4, 2, 6, 8];
    const q = tf.randomNormal([B, nH, T, hd], 0, 1, 'float32', 5) as tf.Tensor4D;
    const k = tf.randomNormal([B, nKV, T, hd], 0, 1, 'float32', 6) as tf.Tensor4D;
    const v = tf.randomNormal([B, nKV, T, hd], 0, 1, 'float32', 7) as tf.Tensor4D;
    const dy = tf.randomNormal([B, nH, T, hd], 0, 1, 'float32', 8);
    const mask = tf.tensor2d([[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]], [B, T], 'int32');
    const scale = 1 / Math.sqrt(hd);
    // the definition, every op taped; repeat_kv: query head h reads kv head ⌊h / (nH/nKV)⌋
    const kvHead = tf.tensor1d(Array.from({ length: nH }, (_, h) => Math.floor(h / (nH / nKV))), 'int32');
    const reference = (qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, bs: tf.Tensor) => {
      const p = tf.softmax(tf.add(tf.mul(tf.matMul(qs, tf.gather(ks, kvHead, 1), false, true), scale), bs), -1);
      return tf.matMul(p, tf.gather(vs, kvHead, 1));
    };
    // a padding and causal mask [B, 1, T, S] (a constant), and a learned per-head bias [1, nH, T, S] as T5's (differentiated)
    for (const [bias, learnedBias] of [[attentionBias(T, 0, true, mask)!, false], [tf.randomNormal([1, nH, T, T], 0, 1, 'float32', 9) as tf.Tensor4D, true]] as const) {
      const ours = (qs: tf.Tensor, ks: tf.Tensor, vs: tf.Tensor, bs: tf.Tensor) => scaledDotProductAttention(qs as tf.Tensor4D, ks as tf.Tensor4D, vs as tf.Tensor4D, bs as tf.Tensor4D, { scale, learnedBias });
      const xs = learnedBias ? [q, k, v, bias] : [q, k, v];
      const got = [ours(q, k, v, bias), ...tf.grads((...t: tf.Tensor[]) => ours(t[0], t[1], t[2], t[3] ?? bias))(xs, dy)];
      const want = [reference(q, k, v, bias), ...tf.grads((...t: tf.Tensor[]) => reference(t[0], t[1], t[2], t[3] ?? bias))(xs, dy)];
      await assertSame(got, want, 2e-6, `attention, bias [${bias.shape}]`);
      const kept = savedBytes(() => ours(q, k, v, bias), [q, k, v]);
      assert.equal(kept, 4 * (q.size + k.size + v.size + bias.size), 'q, k, v and the bias, not the probabilities');
      tf.dispose([bias, ...got, ...want]);
    }
    tf.dispose([q, k, v, dy, mask, kvHead]);
  });
}

for (const engine of ENGINES) {
  test(`gatedActivation(silu) on ${engine}: the taped ops' gradients, keeping gate and up only`, async () => {
    await useBackend(engine);
    const g = tf.randomNormal([3, 4, 40], 0, 2, 'float32', 13);
    const u = tf.randomNormal([3, 4, 40], 0, 1, 'float32', 14);
    const dh = tf.randomNormal([3, 4, 40], 0, 1, 'float32', 15);
    const taped = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.mul(a, tf.sigmoid(a)), b);
    const ours = (a: tf.Tensor, b: tf.Tensor) => gatedActivation(silu, a, b);
    const got = [ours(g, u), ...tf.grads(ours)([g, u], dh)];
    const want = [taped(g, u), ...tf.grads(taped)([g, u], dh)];
    await assertSame(got, want, 1e-6, 'silu(gate)·up');
    assert.equal(savedBytes(() => ours(g, u), [g, u]), 4 * (g.size + u.size));
    tf.dispose([g, u, dh, ...got, ...want]);
  });
}

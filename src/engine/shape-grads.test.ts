// Reshape, Add and Sub take their stock gradients from their inputs' shapes alone and save nothing
// (./shape-grads.ts): values against the gradients written out by hand (broadcasts included), no saved
// tensors on the tape (adapters/lora-linear.test.ts: what a LoRA layer's tape holds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { gradsAndSaved } from './kernels/test-utils.js';

for (const backend of ['wasm', 'cpu']) {
  test(`[${backend}] Reshape, Add and Sub gradients from the input shapes, broadcasts summed, nothing saved`, async () => {
    await useBackend(backend);
    const x = tf.variable(tf.tensor3d(Array.from({ length: 24 }, (_, i) => i - 7), [2, 3, 4]), true, `x${Math.random()}`);
    const b = tf.variable(tf.tensor1d([1, -2, 3, 0.5]), true, `b${Math.random()}`); // broadcast over [2, 3, 4]
    const c = tf.variable(tf.tensor2d([[2], [-1], [4]]), true, `c${Math.random()}`); // [3, 1]: broadcast over the last axis
    const w = tf.tensor2d(Array.from({ length: 24 }, (_, i) => (i % 5) - 2), [6, 4]);
    // loss = Σ w·reshape(x² + b − c): d/dx = 2x·w', d/db = Σ w' over [2, 3], d/dc = −Σ w' over [2, ·, 4]
    const { grads, saved } = gradsAndSaved(() => tf.sum(tf.mul(tf.reshape(tf.sub(tf.add(tf.square(x), b), c), [6, -1]), w)) as tf.Scalar, [x, b, c]);
    for (const k of ['Reshape', 'Add', 'Sub']) assert.equal(saved.get(k), 0, `${k} saved tensors for its gradient`);
    const wv = w.dataSync(); // w' = w laid out as [2, 3, 4]
    const xv = x.dataSync();
    assert.deepEqual(grads[x.name], Array.from(xv, (v, i) => 2 * v * wv[i]));
    assert.deepEqual(grads[b.name], [0, 1, 2, 3].map((j) => [0, 1, 2, 3, 4, 5].reduce((s, row) => s + wv[row * 4 + j], 0)));
    assert.deepEqual(grads[c.name], [0, 1, 2].map((i) => -[0, 1].reduce((s, bb) => s + [0, 1, 2, 3].reduce((t, j) => t + wv[(bb * 3 + i) * 4 + j], 0), 0)));
    tf.dispose([x, b, c, w]);
  });
}

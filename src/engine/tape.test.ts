// freeAsBackpropGoes (./tape.ts): the same gradients as TF.js's own backward pass on graphs with the
// cases that could trip early freeing (a gradient returned as is, one tensor used twice and as both
// inputs of one op, a saved tensor returned as a gradient, a multi-output op, a variable reached through
// a clone), no tensor left behind, and less memory held at the bottom of a deep chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { useBackend } from './backend.js';
import { freeAsBackpropGoes } from './tape.js';

/** A customGrad whose gradient is dy itself (the tensor the backward pass passed in). */
const passThrough = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return { value: tf.mul(x, 1), gradFunc: (dy: tf.Tensor) => [dy] };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** y = x·c with c saved and returned as its gradient when dy is all ones (here: d/dx of sum(x·c) is c). */
const savedAsGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const c = tf.add(tf.mul(x, 0), 3);
  save([c]);
  return { value: tf.mul(x, c), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => [saved[0]] };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

function loss(w: tf.Variable, v: tf.Variable): tf.Scalar {
  const a = passThrough(tf.tanh(w)); // [6]
  const b = tf.mul(a, a); // the same tensor as both inputs
  const [p, q] = tf.split(tf.add(b, tf.sin(a)), 2); // a used twice; a two-output op
  const r = tf.mul(passThrough(tf.clone(v)), p); // a variable through a clone (Identity)
  return tf.add(tf.sum(tf.mul(r, q)), tf.sum(savedAsGrad(v)));
}

async function gradsOf(free: boolean): Promise<{ values: Float32Array[]; loss: number; leaked: number }> {
  const w = tf.variable(tf.tensor1d([0.1, -0.4, 0.7, 1.2, -2, 0.3]));
  const v = tf.variable(tf.tensor1d([0.5, -1, 2]));
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => {
    const l = loss(w, v);
    if (free) freeAsBackpropGoes();
    return l;
  }, [w, v]);
  const values = [await grads[w.name].data(), await grads[v.name].data()] as Float32Array[];
  const out = { values, loss: (await value.data())[0] };
  tf.dispose([value, grads[w.name], grads[v.name]]);
  const leaked = tf.memory().numTensors - before;
  tf.dispose([w, v]);
  return { ...out, leaked };
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`[${backend}] freeing as the backward pass goes gives TF.js's gradients and leaves no tensor behind`, async () => {
    await useBackend(backend);
    try {
      const reference = await gradsOf(false);
      const freed = await gradsOf(true);
      assert.equal(freed.loss, reference.loss);
      assert.deepEqual(freed.values, reference.values);
      assert.equal(freed.leaked, 0, 'tensors left behind');
      assert.ok(reference.values[1].every((g) => Number.isFinite(g) && g !== 0), 'v gets a gradient through every path');
    } finally {
      await useBackend();
    }
  });
}

test('at the bottom of a deep chain, the backward pass holds a few tensors instead of every gradient so far', async () => {
  await useBackend('wasm');
  const depth = 12;
  const held: number[] = [];
  // records the live tensor bytes when the backward pass reaches the start of the chain
  const probe = tf.customGrad(((x: tf.Tensor) => ({ value: tf.mul(x, 1), gradFunc: (dy: tf.Tensor) => {
    held.push(tf.memory().numBytes);
    return [tf.mul(dy, 1)];
  } })) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
  const x = tf.variable(tf.randomNormal([256, 256], 0, 1, 'float32', 1));
  try {
    for (const free of [false, true]) {
      const { value, grads } = tf.variableGrads(() => {
        let h = probe(x);
        for (let i = 0; i < depth; i++) h = tf.tanh(tf.mul(h, 1.1)); // each saves its output, each makes a gradient
        const l = tf.sum(h);
        if (free) freeAsBackpropGoes();
        return l as tf.Scalar;
      }, [x]);
      tf.dispose([value, grads[x.name]]);
    }
    const [kept, freed] = held;
    const tensorBytes = 256 * 256 * 4;
    // without freeing: the chain's saved outputs and all 2·depth gradients; with it: about one of each
    assert.ok(kept >= 2 * depth * tensorBytes, `TF.js's pass holds ${kept / tensorBytes} tensors`);
    assert.ok(freed <= 6 * tensorBytes, `the freeing pass holds ${freed / tensorBytes} tensors`);
  } finally {
    x.dispose();
    await useBackend();
  }
});

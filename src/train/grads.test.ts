import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { namedGradients } from './grads.js';

test('namedGradients keys gradients by parameter name, zero for unreached ones, and leaks nothing', async () => {
  await useBackend('wasm');
  const w = tf.variable(tf.tensor1d([1, 2, 3]), true, 'some-internal-id');
  const unused = tf.variable(tf.tensor1d([5]), true);
  const params = new Map([['layer.weight', w], ['head.bias', unused]]);
  const before = tf.memory().numTensors;
  // L = Σ w², dL/dw = 2w.
  const { loss, grads } = namedGradients(params, () => tf.sum(tf.square(w)) as tf.Scalar);
  assert.equal(loss.dataSync()[0], 14);
  assert.deepEqual(Array.from(grads.get('layer.weight')!.dataSync()), [2, 4, 6]);
  assert.deepEqual(Array.from(grads.get('head.bias')!.dataSync()), [0]);
  tf.dispose([loss, ...grads.values()]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => namedGradients(new Map(), () => tf.scalar(0)), /no parameters to differentiate/);
});

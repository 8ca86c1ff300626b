import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, useBackend } from '../index.js';

test('wasm is the default backend in Node and cpu can be forced', async () => {
  const saved = process.env.LORAPRO_BACKEND;
  delete process.env.LORAPRO_BACKEND;
  try {
    assert.equal(await useBackend(), 'wasm');
    assert.equal(await useBackend('cpu'), 'cpu');
    process.env.LORAPRO_BACKEND = 'cpu';
    assert.equal(await useBackend(), 'cpu');
    const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    assert.deepEqual(await y.data(), new Float32Array([11]));
  } finally {
    if (saved === undefined) delete process.env.LORAPRO_BACKEND;
    else process.env.LORAPRO_BACKEND = saved;
  }
});

test('an unknown backend name is refused by name', async () => {
  await assert.rejects(useBackend('nope'), /unknown TF.js backend "nope"/);
});

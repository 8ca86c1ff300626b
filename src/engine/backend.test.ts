import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeStatus, tf, useBackend } from '../index.js';

test('native (where built) or wasm is the default engine in Node and cpu can be forced', async () => {
  const saved = process.env.LORAPRO_BACKEND;
  delete process.env.LORAPRO_BACKEND;
  try {
    assert.equal(await useBackend(), nativeStatus().available ? 'native' : 'wasm');
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

test('an unknown engine name is refused by name, listing the known ones', async () => {
  await assert.rejects(useBackend('nope'), /unknown engine "nope" \(from useBackend\(\)\); registered: native, /);
});

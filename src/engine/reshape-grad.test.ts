// Reshape's gradient reads the input shape from the kernel's attributes and saves nothing (./reshape-grad.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { useBackend } from './backend.js';

for (const backend of ['wasm', 'cpu']) {
  test(`[${backend}] Reshape's gradient is dy reshaped to the input's shape, and the tape saves no tensor for it`, async () => {
    await useBackend(backend);
    const x = tf.variable(tf.tensor3d(Array.from({ length: 24 }, (_, i) => i - 7), [2, 3, 4]), true, `x${Math.random()}`);
    const w = tf.tensor2d(Array.from({ length: 24 }, (_, i) => (i % 5) - 2), [6, 4]);
    let savedByReshape = -1;
    const { value, grads } = tf.variableGrads(() => {
      const loss = tf.sum(tf.mul(tf.reshape(tf.square(x), [6, -1]), w)) as tf.Scalar;
      const tape = (tf.engine() as unknown as { state: { activeTape: { kernelName: string; saved?: tf.Tensor[] }[] } }).state.activeTape;
      savedByReshape = tape.filter((n) => n.kernelName === 'Reshape').reduce((k, n) => k + (n.saved?.length ?? 0), 0);
      return loss;
    }, [x]);
    assert.equal(savedByReshape, 0);
    // d/dx Σ w·reshape(x²) = 2·x·reshape⁻¹(w)
    const want = (await x.data()).map((v, i) => 2 * v * (w.dataSync()[i]));
    assert.deepEqual(grads[x.name].shape, [2, 3, 4]);
    assert.deepEqual(Array.from(await grads[x.name].data()), Array.from(want));
    tf.dispose([x, w, value, ...Object.values(grads)]);
  });
}

// The native engine's AdamW kernel (native/src/ops.cc, engine/kernels/native-ops.ts) against the op-by-op
// AdamW of ./adamw.ts on the cpu backend: three steps with weight decay, a clipping scale folded into the
// kernel, a per-parameter learning-rate scale, sizes 1, 7, 387 and 40,000 (split over threads), and the
// direction alone (LoRA-Pro AdamW's use). Skipped where the native engine was not built.
import { test } from 'node:test';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { nativeStatus } from '../engine/native.js';
import { assertClose, liveCounts, values } from '../engine/kernels/test-utils.js';
import assert from 'node:assert/strict';
import { adamDirection, adamHyper, adamwStep } from './adamw.js';
import { Slots } from './optimizer.js';

const status = nativeStatus();
const skip = status.available ? false : `native engine not built: ${status.reason}`;

test('native AdamW equals the op-by-op AdamW on cpu over steps, with weight decay, clipping scale, learning-rate scale and odd sizes', { skip }, async () => {
  const h = adamHyper({ lr: 1e-2, weightDecay: 0.1 }, 'test');
  const shapes: Record<string, number[]> = { a: [1], b: [7], c: [129, 3], d: [40000] }; // d: split over threads
  const lrScale = new Map([['c', 4]]);
  const run = (gScale: number) => async () => {
    const variable = (x: Float32Array, shape: number[], name?: string) => tf.tidy(() => tf.variable(tf.tensor(x, shape, 'float32'), true, name));
    const params = new Map(Object.entries(shapes).map(([name, s], i) => [name, variable(values(s.reduce((a, b) => a * b, 1), 20 + i, 1), s, `adam-${name}-${tf.getBackend()}-${gScale}`)]));
    const slots = new Slots();
    const dirs: tf.Tensor[] = [];
    for (let t = 1; t <= 3; t++) {
      const grads = new Map([...params].map(([name, p], i) => [name, tf.tensor(values(p.size, 40 + 10 * t + i, 0.5), p.shape, 'float32')]));
      if (gScale === 1 || tf.getBackend() !== 'cpu') adamwStep(params, grads, slots, t, 1e-2, h, lrScale, gScale);
      else {
        const scaled = new Map([...grads].map(([n, g]) => [n, tf.mul(g, gScale)])); // the reference clips before the step
        adamwStep(params, scaled, slots, t, 1e-2, h, lrScale);
        tf.dispose([...scaled.values()]);
      }
      tf.dispose([...grads.values()]);
    }
    // the direction alone (LoRA-Pro AdamW's use), from fresh moments
    const g = tf.tensor(values(129, 77, 0.5), [129], 'float32');
    const m = variable(values(129, 78, 0.1), [129]);
    const v = variable(values(129, 79, 0.1).map(Math.abs), [129]);
    dirs.push(adamDirection(g, m, v, 2, h), m.clone(), v.clone());
    const out = [...[...params.values()].map((p) => p.clone()), ...dirs];
    tf.dispose([g, m, v, ...params.values()]);
    slots.dispose();
    return out;
  };
  for (const gScale of [1, 0.37]) {
    await useBackend('cpu');
    const cpuOuts = await run(gScale)();
    const cpu = await Promise.all(cpuOuts.map(async (t) => ({ shape: t.shape, values: await t.data() })));
    tf.dispose(cpuOuts);
    await useBackend('native');
    const before = liveCounts();
    const nativeOuts = await run(gScale)();
    const native = await Promise.all(nativeOuts.map(async (t) => ({ shape: t.shape, dtype: t.dtype, values: (await t.data()) as Float32Array })));
    tf.dispose(nativeOuts);
    assert.deepEqual(liveCounts(), before, 'no tensor or buffer left behind');
    const names = [...Object.keys(shapes), 'direction', 'm', 'v'];
    native.forEach((r, i) => assertClose(r, cpu[i], `gScale ${gScale}: ${names[i]}`, 1e-6));
  }
});

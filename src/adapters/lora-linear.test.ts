// LoraLinear's fused forward/backward (loraLinear, and Linear's affine) against the same expression op by
// op under TF.js's own tape: outputs and the gradients of x, A, B (and W, b where trainable), with a bias
// and without, with dropout (the same seeded mask), with a frozen A (LoRA-FA), on wasm and cpu; and the
// point of it: fewer bytes held by the tape at the end of the forward pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { Linear, affine } from '../models/linear.js';
import { LoraLinear } from './lora-linear.js';

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const [x, y] = [a.dataSync(), b.dataSync()];
  assert.deepEqual(a.shape, b.shape);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) (worst = Math.max(worst, Math.abs(x[i] - y[i]))), (scale = Math.max(scale, Math.abs(y[i])));
  return worst / (scale || 1);
}

function makeLayer(seed: number, bias: boolean, dropout: number): LoraLinear {
  const rng = new Rng(seed);
  const base = new Linear(12, 10, { bias, rng, std: 0.3 });
  if (bias) base.bias!.assign(tf.tensor1d(rng.normalArray(10, 0.5)));
  const lora = new LoraLinear(base, { r: 3, alpha: 6, dropout, useRslora: false, init: true, rng });
  lora.B.assign(tf.tensor2d(rng.normalArray(30, 0.4), [10, 3])); // B = 0 would hide half of the gradients
  return lora;
}

/** The adapter's expression written with plain ops, each taped by TF.js. */
function reference(l: LoraLinear, x: tf.Tensor, mask: tf.Tensor | undefined): tf.Tensor {
  const x2 = tf.reshape(x, [-1, l.inFeatures]);
  const xd = mask ? tf.mul(x2, mask) : x2;
  let y = tf.matMul(x2, l.base.weight, false, true);
  if (l.base.bias) y = tf.add(y, l.base.bias);
  y = tf.add(y, tf.mul(tf.matMul(tf.matMul(xd, l.A, false, true), l.B, false, true), l.scale));
  return tf.reshape(y, [...x.shape.slice(0, -1), l.outFeatures]);
}

for (const backend of ['wasm', 'cpu']) {
  test(`[${backend}] LoRA linear's written-out backward equals the taped expression: bias or none, dropout, frozen A`, async () => {
    await useBackend(backend);
    for (const [bias, dropout, frozenA] of [[true, 0, false], [false, 0, false], [true, 0.3, false], [true, 0, true]] as const) {
      const layer = makeLayer(3, bias, dropout);
      layer.training = true;
      if (frozenA) layer.A.trainable = false;
      const rng = new Rng(9);
      const x = tf.variable(tf.tensor3d(rng.normalArray(2 * 5 * 12), [2, 5, 12]), true, `x${Math.random()}`);
      const weights = tf.tensor3d(rng.normalArray(2 * 5 * 10), [2, 5, 10]); // loss = Σ weights·y, so dy is not all ones
      const vars = [x, ...(frozenA ? [] : [layer.A]), layer.B];
      const seedState = layer.rng.state;
      const fused = tf.variableGrads(() => tf.sum(tf.mul(layer.forward(x), weights)) as tf.Scalar, vars);
      layer.rng.state = seedState; // the reference draws the same dropout seed
      const mask = dropout > 0 ? tf.div(tf.floor(tf.add(tf.randomUniform([10, 12], 0, 1, 'float32', layer.rng.int(2 ** 31)), 1 - dropout)), 1 - dropout) : undefined;
      const ref = tf.variableGrads(() => tf.sum(tf.mul(reference(layer, x, mask), weights)) as tf.Scalar, vars);
      const what = `bias ${bias}, dropout ${dropout}, frozen A ${frozenA}`;
      assert.ok(Math.abs(fused.value.dataSync()[0] - ref.value.dataSync()[0]) < 1e-4 * Math.abs(ref.value.dataSync()[0]), `${what}: loss differs`);
      for (const v of vars) assert.ok(maxRelDiff(fused.grads[v.name], ref.grads[v.name]) < 1e-5, `${what}: gradient of ${v.name} differs`);
      if (dropout > 0) assert.ok(mask!.dataSync().some((m) => m === 0), 'the dropout case drops something');
      tf.dispose([x, weights, fused.value, ref.value, ...Object.values(fused.grads), ...Object.values(ref.grads), ...(mask ? [mask] : [])]);
    }
  });

  test(`[${backend}] affine x·Wᵀ + b: value and gradients of x, W, b as matMul + add, W or b frozen`, async () => {
    await useBackend(backend);
    const rng = new Rng(4);
    for (const [trainW, trainB] of [[true, true], [false, true], [true, false], [false, false]]) {
      const W = tf.variable(tf.tensor2d(rng.normalArray(6 * 7), [6, 7]), trainW, `W${Math.random()}`) as tf.Variable<tf.Rank.R2>;
      const b = tf.variable(tf.tensor1d(rng.normalArray(6)), trainB, `b${Math.random()}`) as tf.Variable<tf.Rank.R1>;
      const x = tf.variable(tf.tensor2d(rng.normalArray(5 * 7), [5, 7]), true, `x${Math.random()}`);
      const weights = tf.tensor2d(rng.normalArray(5 * 6), [5, 6]);
      const vars = [x, ...(trainW ? [W] : []), ...(trainB ? [b] : [])];
      const ours = tf.variableGrads(() => tf.sum(tf.mul(affine(x as tf.Variable<tf.Rank.R2>, W, b), weights)) as tf.Scalar, vars);
      const ref = tf.variableGrads(() => tf.sum(tf.mul(tf.add(tf.matMul(x, W, false, true), b), weights)) as tf.Scalar, vars);
      for (const v of vars) assert.ok(maxRelDiff(ours.grads[v.name], ref.grads[v.name]) < 1e-5, `W trainable ${trainW}, b ${trainB}: gradient of ${v.name} differs`);
      tf.dispose([W, b, x, weights, ours.value, ref.value, ...Object.values(ours.grads), ...Object.values(ref.grads)]);
    }
  });
}

test("the fused LoRA linear's tape keeps no [N, out] tensor: the bytes it saves are x̃, u and s·A", async () => {
  await useBackend('cpu');
  const layer = makeLayer(5, true, 0);
  const x = tf.variable(tf.randomNormal([64, 12]), true, `x${Math.random()}`);
  const savedBytes = (f: () => tf.Tensor): number => {
    let bytes = 0;
    const out = tf.variableGrads(() => {
      const y = tf.sum(f()) as tf.Scalar;
      const tape = (tf.engine() as unknown as { state: { activeTape: { kernelName: string; saved?: tf.Tensor[] }[] } }).state.activeTape;
      // the layer's own nodes: not the reshapes around it (both routes have them) nor the loss's sum
      for (const node of tape) if (node.kernelName !== 'Reshape' && node.kernelName !== 'Sum') for (const t of node.saved ?? []) bytes += t.size * 4;
      return y;
    }, [layer.A, layer.B]);
    tf.dispose([out.value, ...Object.values(out.grads)]);
    return bytes;
  };
  const fused = savedBytes(() => layer.forward(x));
  const taped = savedBytes(() => reference(layer, x, undefined));
  // x̃ [64, 12] + u [64, 3] + s·A [3, 12]; the taped route also keeps the two [64, 10] sums and more.
  assert.equal(fused, (64 * 12 + 64 * 3 + 3 * 12) * 4);
  assert.ok(taped > fused + 2 * 64 * 10 * 4, `taped ${taped} bytes vs fused ${fused}`);
  tf.dispose([x]);
});

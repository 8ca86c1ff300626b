import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Matrix, inverse } from 'ml-matrix';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { Rng } from '../math/rng.js';
import { LoraFA } from './lora-fa.js';
import type { LoraPair } from './optimizer.js';
import { randomTensor, toMatrix, wellConditioned } from './test-utils.js';

await useBackend('cpu');

function pair(rng: Rng, scale: number): LoraPair {
  const A = tf.variable(wellConditioned(rng, [3, 7]), false, `A${rng.int(1e9)}`) as tf.Variable<tf.Rank.R2>;
  const B = tf.variable(randomTensor(rng, [5, 3], 0.1), true, `B${rng.int(1e9)}`) as tf.Variable<tf.Rank.R2>;
  return { module: 'layer', aName: 'layer.lora_A.weight', bName: 'layer.lora_B.weight', A, B, scale };
}

test('LoRA-FA: two steps match PEFT LoraFAOptimizer in Float64 (g̃ = g·(AAᵀ + δI)⁻¹/s², adamw-hf with ε 1e-6, decay after)', async () => {
  const rng = new Rng(1);
  const s = 2;
  const p = pair(rng, s);
  const head = tf.variable(randomTensor(rng, [2, 3]), true, `head${rng.int(1e9)}`);
  const opt = new LoraFA([p], new Map([['head.weight', head]]), { lr: 0.01, weightDecay: 0.1 });
  const a = toMatrix(p.A);
  const inv = inverse(a.mmul(a.transpose()).add(Matrix.eye(3).mul(1e-8)));
  // reference state, PEFT's step() written out in Float64
  let b = toMatrix(p.B);
  let h = toMatrix(head);
  const mB = Matrix.zeros(5, 3);
  const vB = Matrix.zeros(5, 3);
  const mH = Matrix.zeros(2, 3);
  const vH = Matrix.zeros(2, 3);
  const adam = (param: Matrix, g: Matrix, m: Matrix, v: Matrix, t: number): Matrix => {
    m.mul(0.9).add(g.clone().mul(0.1));
    v.mul(0.999).add(g.clone().mul(g).mul(0.001));
    const stepSize = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
    const next = param.clone().sub(m.clone().div(v.clone().sqrt().add(1e-6)).mul(stepSize));
    return next.mul(1 - 0.01 * 0.1);
  };
  for (let t = 1; t <= 2; t++) {
    const gB = randomTensor(rng, [5, 3]);
    const gH = randomTensor(rng, [2, 3]);
    const res = await opt.step(new Map([['layer.lora_B.weight', gB], ['head.weight', gH]]));
    assert.equal(res.skipped, false);
    b = adam(b, toMatrix(gB).mmul(inv).mul(1 / (s * s)), mB, vB, t);
    h = adam(h, toMatrix(gH), mH, vH, t);
    tf.dispose([gB, gH]);
  }
  const close = (got: tf.Tensor, want: Matrix, what: string) => {
    const g = toMatrix(got);
    for (let i = 0; i < want.rows; i++) for (let j = 0; j < want.columns; j++) assert.ok(Math.abs(g.get(i, j) - want.get(i, j)) < 1e-5, `${what}[${i}][${j}] ${g.get(i, j)} vs ${want.get(i, j)}`);
  };
  close(p.B, b, 'B');
  close(head, h, 'head');
  assert.ok(toMatrix(p.A).sub(a).norm() === 0, 'A never changes');
  const state = opt.getState();
  assert.deepEqual([...state.tensors.keys()].sort(), ['head.weight.exp_avg', 'head.weight.exp_avg_sq', 'layer.lora_B.weight.exp_avg', 'layer.lora_B.weight.exp_avg_sq']);
  tf.dispose([...state.tensors.values()]);
  opt.dispose();
});

test('LoRA-FA refuses a trainable A and a step leaves no tensors behind', async () => {
  const rng = new Rng(2);
  const p = pair(rng, 1);
  p.A.trainable = true;
  assert.throws(() => new LoraFA([p], new Map(), { lr: 1e-3 }), /"layer.lora_A.weight" must be frozen/);
  p.A.trainable = false;
  const opt = new LoraFA([p], new Map(), { lr: 1e-3 });
  const g = randomTensor(rng, [5, 3]);
  await opt.step(new Map([['layer.lora_B.weight', g]]));
  const before = tf.memory().numTensors;
  await opt.step(new Map([['layer.lora_B.weight', g]]));
  assert.equal(tf.memory().numTensors, before);
  opt.dispose();
});

// Gradients flow to every parameter of each architecture on wasm (the embedding gather included),
// agree with the cpu backend, and a steady-state step leaves tf.memory().numTensors unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { createModel } from './auto.js';
import { randomInit } from './layers.js';
import { isTextToText, type AnyModel } from './types.js';
import { TINY, assertClose, int2d } from './testing.js';

const IDS = [
  [1, 5, 9, 13, 17, 21],
  [2, 4, 6, 8, 0, 0],
];
const MASK = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];

/** The loss of one fixed batch: causal LM with padding labelled -100, or classification. */
function lossOf(model: AnyModel): tf.Scalar {
  return tf.tidy(() => {
    const ids = int2d(IDS);
    const mask = int2d(MASK);
    if (model.task === 'causal-lm') return model.loss(ids, int2d(IDS.map((r, b) => r.map((t, i) => (MASK[b][i] ? t : -100)))), mask);
    return model.loss(ids, mask, tf.tensor1d([1, 0], 'int32'));
  });
}

/** One SGD step; returns the loss before it. Gradients are read by parameter name. */
async function sgdStep(model: AnyModel, lr: number): Promise<{ loss: number; gradNorms: Map<string, number> }> {
  const params = model.trainableParameters();
  const { value, grads } = tf.variableGrads(() => lossOf(model), [...params.values()]);
  const gradNorms = new Map<string, number>();
  for (const [name, v] of params) {
    const g = grads[v.name];
    if (g === undefined) continue;
    const norm = tf.norm(g);
    gradNorms.set(name, (await norm.data())[0]);
    norm.dispose();
    tf.tidy(() => v.assign(tf.sub(v, tf.mul(g, lr))));
  }
  const loss = (await value.data())[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, gradNorms };
}

const CASES = [
  { kind: 'gpt2', task: 'causal-lm' },
  { kind: 'llama', task: 'causal-lm' },
  { kind: 'llama', task: 'sequence-classification' },
  { kind: 'bert', task: 'sequence-classification' },
  { kind: 't5', task: 'sequence-classification' }, // text-to-text: the labels' targets are token sequences
] as const;

for (const { kind, task } of CASES) {
  test(`${kind} ${task}: every parameter gets a gradient on wasm and steps do not leak`, async () => {
    await useBackend('wasm');
    const model = createModel(TINY[kind](), { task, init: randomInit(11, 0.1), numLabels: 2 });
    if (isTextToText(model)) model.setLabelTargets([[7, 1], [9, 12, 1]]);
    try {
      const first = await sgdStep(model, 0.5);
      for (const name of model.trainableParameters().keys()) {
        const norm = first.gradNorms.get(name);
        assert.ok(norm !== undefined && Number.isFinite(norm) && norm > 0, `gradient of ${name}: ${norm}`);
      }
      await sgdStep(model, 0.5); // warm-up: lazily created kernels and scalars
      const before = tf.memory().numTensors;
      const third = await sgdStep(model, 0.5);
      assert.equal(tf.memory().numTensors, before, 'a steady-state step leaves numTensors unchanged');
      assert.ok(third.loss < first.loss, `loss went down: ${first.loss} → ${third.loss}`);
    } finally {
      model.dispose();
    }
  });
}

test('wasm and cpu agree on the gradient of the tied GPT-2 embedding', async () => {
  const gradOn = async (backend: string) => {
    await useBackend(backend);
    const model = createModel(TINY.gpt2(), { task: 'causal-lm', init: randomInit(12, 0.1) });
    const wte = model.namedParameters().get('transformer.wte.weight')!;
    const { value, grads } = tf.variableGrads(() => lossOf(model), [wte]);
    const g = (await grads[wte.name].data()) as Float32Array;
    tf.dispose([value, grads[wte.name]]);
    model.dispose();
    return g;
  };
  const wasm = await gradOn('wasm');
  const cpu = await gradOn('cpu');
  assertClose(wasm, cpu, 1e-4, 'd loss / d wte');
});

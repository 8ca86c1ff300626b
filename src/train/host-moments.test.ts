// LoRA-Pro full mode with its m×n moments outside the wasm heap (optim/host-moments.ts): the same steps as
// with heap moments (the same native Adam arithmetic), the heap lighter by the moments' bytes, the
// optimiser's state through a checkpoint folder and back giving the same next step (and a heap-moment
// run resuming it), and nothing left behind by a steady-state step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { hostAdamOn } from '../engine/fused.js';
import { Rng } from '../math/rng.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { tempDir } from './testing.js';
import { LoraProAdamW } from '../optim/lora-pro-adamw.js';
import type { LoraPair } from '../optim/optimizer.js';
import { randomTensor } from '../optim/test-utils.js';

const SHAPES: [number, number, number][] = [
  [24, 16, 4], // m, n, r
  [16, 40, 4],
];

/** Fresh variables (the same values for every call) and their pairs. */
function makePairs(): { pairs: LoraPair[]; params: Map<string, tf.Variable> } {
  const rng = new Rng(3);
  const params = new Map<string, tf.Variable>();
  const pairs = SHAPES.map(([m, n, r], i) => {
    const A = tf.variable(randomTensor(rng, [r, n], 0.3));
    const B = tf.variable(randomTensor(rng, [m, r], 0.3));
    const module = `layers.${i}.proj`;
    params.set(`${module}.lora_A.weight`, A).set(`${module}.lora_B.weight`, B);
    return { module, aName: `${module}.lora_A.weight`, bName: `${module}.lora_B.weight`, A: A as tf.Variable<tf.Rank.R2>, B: B as tf.Variable<tf.Rank.R2>, scale: 2 } as LoraPair;
  });
  return { pairs, params };
}

/** Step k's gradients, the same for every optimiser. */
function grads(params: ReadonlyMap<string, tf.Variable>, k: number): Map<string, tf.Tensor> {
  const rng = new Rng(100 + k);
  return new Map([...params].map(([name, v]) => [name, randomTensor(rng, v.shape as [number, number], 0.1)] as const));
}

async function run(opt: LoraProAdamW, params: ReadonlyMap<string, tf.Variable>, from: number, to: number): Promise<void> {
  for (let k = from; k < to; k++) {
    const g = grads(params, k);
    await opt.step(g);
    tf.dispose([...g.values()]);
  }
}

const valuesOf = async (params: ReadonlyMap<string, tf.Variable>) => Promise.all([...params.values()].map(async (v) => [...(await v.data())]));

function maxRelativeDifference(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, i) => row.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[i][j]) / Math.max(1e-12, Math.abs(x))))));
  return worst;
}

test('moments outside the heap: the same LoRA-Pro steps, a lighter heap, checkpoints that resume exactly', async (t) => {
  await useBackend();
  if (!hostAdamOn()) {
    t.skip('needs the native engine with its adamHost kernel (node scripts/build-native.mjs)');
    return;
  }
  const heap = makePairs();
  const host = makePairs();
  const onHeap = new LoraProAdamW(heap.pairs, new Map(), { lr: 1e-2, mode: 'full', momentsOutsideHeap: false });
  const outside = new LoraProAdamW(host.pairs, new Map(), { lr: 1e-2, mode: 'full', momentsOutsideHeap: true });
  assert.equal(outside.momentsOutsideHeap, true);
  try {
    const before = tf.memory().numBytes;
    await run(onHeap, heap.params, 0, 3);
    const heapGrowth = tf.memory().numBytes - before;
    const mid = tf.memory().numBytes;
    await run(outside, host.params, 0, 3);
    const outsideGrowth = tf.memory().numBytes - mid;
    const momentBytes = SHAPES.reduce((n, [m, k]) => n + 2 * m * k * 4, 0);
    assert.equal(heapGrowth - outsideGrowth, momentBytes, 'the heap run holds the m×n moments, the other does not');
    const worst = maxRelativeDifference(await valuesOf(heap.params), await valuesOf(host.params));
    assert.ok(worst <= 1e-6, `relative difference ${worst}`);

    // a checkpoint folder and back, into a fresh optimiser: the next steps equal the original's
    const dir = await saveCheckpoint(join(tempDir(), 'ckpt'), host.params, outside, { step: 3, position: { epoch: 0, batchIndex: 3 }, rng: [], tokens: 0, elapsedS: 0 });
    const resumed = makePairs();
    const again = new LoraProAdamW(resumed.pairs, new Map(), { lr: 1e-2, mode: 'full', momentsOutsideHeap: true });
    const heapResumed = makePairs();
    const heapAgain = new LoraProAdamW(heapResumed.pairs, new Map(), { lr: 1e-2, mode: 'full', momentsOutsideHeap: false });
    try {
      await loadCheckpoint(dir, resumed.params, again);
      await loadCheckpoint(dir, heapResumed.params, heapAgain); // written outside the heap, resumed on it
      const n = tf.memory().numTensors;
      await run(outside, host.params, 3, 5);
      assert.equal(tf.memory().numTensors, n, 'steady-state steps leave no tensor behind');
      await run(again, resumed.params, 3, 5);
      await run(heapAgain, heapResumed.params, 3, 5);
      assert.deepEqual(await valuesOf(resumed.params), await valuesOf(host.params));
      assert.ok(maxRelativeDifference(await valuesOf(heapResumed.params), await valuesOf(host.params)) <= 1e-6);
    } finally {
      again.dispose();
      heapAgain.dispose();
      tf.dispose([...resumed.params.values(), ...heapResumed.params.values()]);
    }
  } finally {
    onHeap.dispose();
    outside.dispose();
    tf.dispose([...heap.params.values(), ...host.params.values()]);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../../train/testing.js';
import { limiter, liveChildren, runMethodInChild } from './pool.js';

test('limiter: never more than n at once, waiting calls start in call order, errors free the slot', async () => {
  const slot = limiter(2);
  let active = 0;
  let most = 0;
  const order: number[] = [];
  const job = (i: number, fail = false) =>
    slot(async () => {
      order.push(i);
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 3));
      active--;
      if (fail) throw new Error(`job ${i}`);
      return i;
    });
  const results = await Promise.allSettled([0, 1, 2, 3, 4, 5, 6, 7].map((i) => job(i, i === 1)));
  assert.equal(most, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(results[1].status, 'rejected');
  assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value), [0, 2, 3, 4, 5, 6, 7]);
  assert.throws(() => limiter(0), /positive integer/);
});

test('runMethodInChild: an error in the child comes back naming the run and the cause', async () => {
  const missing = join(tempDir('lorapro-pool-'), 'no-such-model');
  const base = { model: missing, task: 'classification', train: 'builtin:name-gender?max-train=16', maxSteps: 1, batchSize: 4 };
  await assert.rejects(runMethodInChild({ base, task: 'name-gender', method: 'lora', lr: 1e-3, seed: 0, out: join(missing, 'runs') }, 'cpu'), (e: Error) => {
    assert.match(e.message, /name-gender lora lr 0\.001 seed 0/);
    assert.match(e.message, /no-such-model/);
    return true;
  });
});

test('runPaper with --jobs 2: the first failed run stops the others, and no child is left running', async () => {
  const { paperPlan, runPaper } = await import('./paper.js');
  const root = tempDir('lorapro-pool-fail-');
  const plan = paperPlan({ model: join(root, 'no-such-model'), out: join(root, 'runs'), tasks: ['name-gender'], methods: ['lora', 'full'], seeds: [0, 1] });
  const lines: string[] = [];
  await assert.rejects(runPaper(plan, { log: (l) => lines.push(l), jobs: 2, backend: 'cpu' }), /no-such-model/);
  await new Promise((r) => setTimeout(r, 200)); // exits are reported asynchronously
  assert.equal(liveChildren(), 0);
  assert.ok(lines.filter((l) => l.startsWith('==')).length <= 2, lines.join('\n')); // no run started after the failure
});

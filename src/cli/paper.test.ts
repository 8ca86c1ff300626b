// `lorapro demo` and `lorapro bench paper` end to end on a tiny byte-level model and a few steps:
// the printed table, the written reports, and the learning-rate choice on validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gridOf, LR_GRID, paperPlan, pickByValidation, plannedRuns } from '../bench/paper/paper.js';
import type { MethodRun } from '../bench/paper/runs.js';
import { tempDir } from '../train/testing.js';
import { runCli, writeTinyByteModel } from './testing.js';

const root = tempDir('lorapro-paper-');
const model = join(root, 'model');
await writeTinyByteModel(model);

const run = runCli;

test('paperPlan: the full plan is 5 tasks × 6 methods × 3 seeds with a 2-point grid; --quick is smaller', () => {
  const full = paperPlan({ model: 'm', out: 'o' });
  assert.equal(full.tasks.length, 5);
  assert.deepEqual(full.seeds, [0, 1, 2]);
  assert.equal(plannedRuns(full), 5 * 6 * (2 + 2)); // grid on seed 0, then seeds 1 and 2
  const quick = paperPlan({ model: 'm', out: 'o', quick: true });
  assert.equal(plannedRuns(quick), 2 * 6 * 2);
  // NAME@INIT variants use their method's grid (lora-pro's two rates); a method without one tries 1e-3
  const variants = paperPlan({ model: 'm', out: 'o', quick: true, methods: ['lora-pro@pissa', 'lora@lora-ga', 'lora-pro-sgd'] });
  assert.deepEqual(gridOf(variants, 'lora-pro@pissa'), LR_GRID['lora-pro']);
  assert.deepEqual(gridOf(variants, 'lora-pro-sgd'), [1e-3]);
  assert.equal(plannedRuns(variants), 2 * (2 + 2 + 1));
});

test('pickByValidation takes the best validation accuracy, skipping diverged runs, first on ties', () => {
  const r = (lr: number, validation: number) => ({ lr, validation }) as unknown as MethodRun;
  assert.equal(pickByValidation([r(1, 0.5), r(2, 0.7), r(3, 0.7)])?.lr, 2);
  assert.equal(pickByValidation([r(1, Number.NaN), r(2, 0.1)])?.lr, 2);
  assert.equal(pickByValidation([r(1, Number.NaN)]), undefined);
});

test('demo: three methods on a built-in task, a printed table and demo.md', async () => {
  const out = join(root, 'demo');
  const r = await run('demo', '--model', model, '--out', out, '--steps', '2', '--max-train', '32');
  assert.equal(r.code, 0, r.err);
  for (const m of ['full', 'lora', 'lora-pro']) assert.match(r.out, new RegExp(`^${m} +0\\.\\d+ +\\d+\\.\\d`, 'm'));
  const md = readFileSync(join(out, 'demo.md'), 'utf8');
  assert.match(md, /\| lora-pro \| 0\.001 \|/);
  assert.match(md, /Command: `npx lorapro demo --model /);
  assert.ok(existsSync(join(out, 'report.html')));
  // a second demo into the same folder replaces the first; a folder that is not a demo's is refused
  assert.equal((await run('demo', '--model', model, '--out', out, '--steps', '1', '--max-train', '16')).code, 0);
  const refused = await run('demo', '--model', model, '--out', root, '--steps', '1');
  assert.equal(refused.code, 2);
  assert.match(refused.err, /not a demo's/);
});

test('bench paper: grid on validation, seeds, results.md with the table, costs, grid and plots', async () => {
  const out = join(root, 'bench');
  const results = join(root, 'docs', 'results.md');
  const r = await run('bench', 'paper', '--quick', '--model', model, '--tasks', 'name-gender', '--methods', 'lora,lora-pro', '--seeds', '0,1', '--steps', '2', '--jobs', '1', '--out', out, '--results', results);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^lora-pro +\d+\.\d ± \d+\.\d +\d+\.\d$/m);
  const md = readFileSync(results, 'utf8');
  assert.match(md, /\*\*Command:\*\* `npx lorapro bench paper --quick/);
  assert.match(md, /\| method \| name-gender \| average \|/);
  assert.match(md, /\| \(majority label\) \| 52\.2 \| 52\.2 \|/); // docs/TASKS.md: name-gender test majority 52.2%
  assert.match(md, /\| name-gender \| lora-pro \| .*\*\*/);
  assert.match(md, /### LoRA-Pro vs LoRA, task by task/);
  assert.match(md, /\| name-gender \| \d+\.\d \| \d+\.\d \| [+-]\d+\.\d \| - \| -?\d\.\d\d → -?\d\.\d\d \|/); // no full run here: '-'
  assert.deepEqual(readdirSync(join(root, 'docs', 'results-plots')).sort(), ['name-gender-accuracy.svg', 'name-gender-diagnostic.svg']);
  // per method: 2 grid points on seed 0, then seed 1 at the chosen rate
  for (const m of ['lora', 'lora-pro']) {
    const lrs = readdirSync(join(out, 'name-gender', m));
    assert.equal(lrs.length, 2);
    assert.equal(lrs.flatMap((lr) => readdirSync(join(out, 'name-gender', m, lr))).filter((s) => s === 'seed-1').length, 1);
  }
});

test('bench paper --jobs 2: runs in child processes give the same runs and table as one process', async () => {
  const args = ['bench', 'paper', '--quick', '--model', model, '--tasks', 'name-gender', '--methods', 'lora,lora-pro', '--seeds', '0,1', '--steps', '2'];
  const one = await run(...args, '--jobs', '1', '--out', join(root, 'jobs-1'), '--results', join(root, 'jobs-1.md'));
  const two = await run(...args, '--jobs', '2', '--out', join(root, 'jobs-2'), '--results', join(root, 'jobs-2.md'));
  assert.equal(one.code, 0, one.err);
  assert.equal(two.code, 0, two.err);
  assert.match(two.err, /6 runs, 2 at a time/);
  assert.match(two.err, /done \[6\/6\]/);
  const losses = (dir: string) =>
    readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).loss);
  for (const m of ['lora', 'lora-pro'])
    for (const lr of readdirSync(join(root, 'jobs-1', 'name-gender', m)))
      for (const seed of readdirSync(join(root, 'jobs-1', 'name-gender', m, lr)))
        assert.deepEqual(losses(join(root, 'jobs-2', 'name-gender', m, lr, seed)), losses(join(root, 'jobs-1', 'name-gender', m, lr, seed)), `${m} ${lr} ${seed}`);
  const table = (out: string) => out.split('\n').filter((l) => /^(lora|lora-pro|\(majority)/.test(l));
  assert.deepEqual(table(two.out), table(one.out));
  assert.equal((await run('bench', 'paper', '--model', model, '--jobs', '0')).code, 2);
});

// What protects a run and its outputs: the divergence guard, a clean stop on a signal (abort) that
// resumes exactly, and the rules for --out and --resume (nothing already written is lost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useBackend } from '../engine/backend.js';
import { checkpointSteps } from '../train/checkpoint.js';
import { DivergenceGuard } from '../train/divergence.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { UsageError } from '../train/errors.js';
import { readMetrics } from '../train/metrics-log.js';
import { classificationFixture } from '../train/testing.js';
import { train } from './train.js';

await useBackend();
const fixture = await classificationFixture();
const root = fixture.root;
const config = (over: Record<string, unknown> = {}): TrainConfig => fixture.config({ lr: 1e-2, ...over });

const isUsage = (pattern: RegExp) => (e: Error) => e instanceof UsageError && pattern.test(e.message);

test('the guard: a loss far above its start for three logged steps, or weights 100x their norm, stop it', () => {
  const cases: { name: string; norms: number[]; losses: number[]; stopsAt?: number; says?: RegExp }[] = [
    { name: 'healthy', norms: [1, 1.2, 1.5, 2, 3], losses: [0.7, 0.6, 0.9, 0.5, 0.4] },
    { name: 'one spike', norms: [1, 1, 1, 1, 1], losses: [0.7, 5, 0.6, 5, 0.6] },
    { name: 'loss climbs', norms: [1, 1, 1, 1, 1], losses: [0.7, 4, 4.5, 5, 6], stopsAt: 3, says: /loss rose from 0\.700 to 5\.000 \(above 3\.700/ },
    { name: 'weights blow up', norms: [1, 2, 150], losses: [0.7, 0.7, 0.7], stopsAt: 2, says: /norm grew from 1\.000 to 150\.000/ },
    { name: 'weights not finite', norms: [1, Number.POSITIVE_INFINITY], losses: [0.7, 0.7], stopsAt: 1, says: /Infinity/ },
  ];
  for (const c of cases) {
    const guard = new DivergenceGuard(c.norms[0]);
    const stops = c.losses.map((l, i) => guard.check(l, c.norms[i]));
    const at = stops.findIndex((s) => s !== undefined);
    assert.equal(at === -1 ? undefined : at, c.stopsAt, c.name);
    if (c.says) assert.match(stops[at]!, c.says, c.name);
  }
});

test('a learning rate of 1e6 is stopped at its first step with a hint, and nothing is written as final', async () => {
  const cfg = config({ lr: 1e6, saveEvery: 1 });
  const result = await train(cfg);
  assert.equal(result.status, 'diverged');
  assert.match(result.message!, /^step 1: the run is diverging: the trainable weights' norm grew .* Try a smaller learning rate, e\.g\. --lr 100000 \(it was 1000000\)/);
  assert.ok(!existsSync(join(cfg.out, 'adapter_model.safetensors')));
  assert.match(readFileSync(join(cfg.out, 'report.html'), 'utf8'), /diverging/);
  const guardless = await train(config({ lr: 1e6, divergenceGuard: false, maxSteps: 3 }));
  assert.equal(guardless.status, 'completed', 'the guard can be turned off');
});

test('an aborted signal stops after the step, checkpoints it, and --resume ends on the weights of an uninterrupted run', async () => {
  const over = { maxSteps: 10, saveEvery: 4, evalEvery: 5, loraDropout: 0.1 };
  const straight = config(over);
  await train(straight);
  const stopped = config(over);
  const controller = new AbortController();
  const result = await train(stopped, { signal: controller.signal, onStep: (step) => void (step === 6 && controller.abort()) });
  assert.equal(result.status, 'interrupted');
  assert.equal(result.steps, 6);
  assert.match(result.message!, /interrupted at step 6 of 10; the checkpoint .*step-000006 holds it; continue with --resume/);
  assert.ok((await checkpointSteps(join(stopped.out, 'checkpoints'))).includes(6));
  assert.equal((await train(trainConfig({ ...stopped, resume: true }))).status, 'completed');
  const weights = (c: TrainConfig) => readFileSync(join(c.out, 'adapter_model.safetensors'));
  assert.ok(weights(stopped).equals(weights(straight)), 'byte-identical adapter');
  const steps = (await readMetrics(join(stopped.out, 'metrics.jsonl'))).map((l) => l.step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'every step logged once');
});

test('--resume needs a checkpoint: an error naming the folder, and a finished run without checkpoints is left untouched', async () => {
  const empty = config({ maxSteps: 2 });
  await assert.rejects(train(trainConfig({ ...empty, resume: true })), isUsage(/--resume: there is no run to continue in .*run-\d+ \(no checkpoint/));
  assert.ok(!existsSync(empty.out), 'nothing created');
  const started = await train(trainConfig({ ...empty, resume: 'if-any' }));
  assert.equal(started.status, 'completed', "'if-any' starts a run where there is none");

  rmSync(join(empty.out, 'checkpoints'), { recursive: true });
  const before = new Map(readdirSync(empty.out).map((f) => [f, statSync(join(empty.out, f)).mtimeMs]));
  for (const resume of [true, 'if-any'] as const) {
    await assert.rejects(train(trainConfig({ ...empty, resume })), isUsage(/holds a finished or stopped run \(report\.html\) but no checkpoint .*nothing was changed/));
  }
  const after = new Map(readdirSync(empty.out).map((f) => [f, statSync(join(empty.out, f)).mtimeMs]));
  assert.deepEqual(after, before, 'no file rewritten');
});

test('--resume with changed settings is refused before any learning-rate search runs', async () => {
  const cfg = config({ maxSteps: 2 });
  await train(cfg);
  await assert.rejects(train(trainConfig({ ...cfg, lr: 'auto', resume: true })), isUsage(/lr: 0\.01 → "auto"/));
  assert.ok(!existsSync(join(cfg.out, 'lr-search')), 'no trial was run');
});

test('an --out that is a file is refused by name', async () => {
  const file = join(root, 'not-a-folder');
  writeFileSync(file, 'x');
  await assert.rejects(train(config({ out: file })), isUsage(/--out .*not-a-folder is a file, not a folder/));
});

test('--damping: a positive number, kept in run.json, and a changed one is refused on --resume', async () => {
  assert.throws(() => config({ damping: 0 }), isUsage(/damping \(--damping\) must be a positive number, got 0/));
  const cfg = config({ method: 'lora-pro-sgd', lr: 0.1, maxSteps: 2, damping: 1e-4 });
  assert.equal((await train(cfg)).status, 'completed');
  assert.equal(JSON.parse(readFileSync(join(cfg.out, 'run.json'), 'utf8')).config.damping, 1e-4);
  await assert.rejects(train(trainConfig({ ...cfg, damping: 1e-3, resume: true })), isUsage(/damping: 0\.0001 → 0\.001/));
});

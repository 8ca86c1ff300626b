// A T5 in the in-memory TrainSession (the browser's trainer) takes its label targets from the data
// as the Node trainer does, so the page's losses are `lorapro train`'s, and it classifies a text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileSet } from '../io/file-set.js';
import { train } from '../run/train.js';
import { trainConfig } from './config.js';
import { TrainSession } from './session.js';
import { sentimentRecords, tempDir, writeJsonl, writeTinyModel } from './testing.js';

test('TrainSession trains a tiny T5 to the Node trainer losses and ranks its labels', async () => {
  const root = tempDir('lorapro-t5-');
  const model = await writeTinyModel(join(root, 't5'), 't5', 3);
  const records = sentimentRecords(24, 4).map((r) => ({ text: r.text, label: r.label === 'pos' ? 'good' : 'bad' }));
  const trainFile = writeJsonl(join(root, 'train.jsonl'), records);
  const options = { method: 'lora', lr: 1e-2, maxSteps: 4, batchSize: 8, targetModules: 'peft' };
  const config = trainConfig({ model, train: trainFile, task: 'classification', out: join(root, 'run'), ...options });
  assert.equal((await train(config, { log: () => {} })).status, 'completed');
  const losses = readFileSync(join(config.out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
  const session = await TrainSession.create({
    model: new FileSet('t5', readdirSync(model).map((f) => [f, readFileSync(join(model, f))] as const)),
    data: { train: { name: 'train.jsonl', text: readFileSync(trainFile, 'utf8') } },
    options,
  });
  try {
    const got: number[] = [];
    while (!session.done) got.push((await session.next()).loss);
    assert.deepEqual(got, losses);
    const probs = await session.classify('the film was good');
    assert.deepEqual(probs.map((p) => p.label).sort(), ['bad', 'good']);
    assert.ok(Math.abs(probs[0].probability + probs[1].probability - 1) < 1e-5);
  } finally {
    session.dispose();
  }
});

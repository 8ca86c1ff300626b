// `lorapro eval` on data that does not fit what was trained: a label outside the trained label set
// names where that set came from, and labelled data for a model with no trained classifier is
// refused instead of being scored as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { lmRecords, sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-eval-inputs-');
const model = await writeTinyModel(join(root, 'model'), 'gpt2'); // a causal LM: no classification head
const train = writeJsonl(join(root, 'train.jsonl'), sentimentRecords(16, 1));
const dev = writeJsonl(join(root, 'dev.jsonl'), sentimentRecords(4, 2));
const unseen = writeJsonl(join(root, 'unseen.jsonl'), [{ text: 'good', label: 'pos' }, { text: 'meh', label: 'neutral' }]);
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(6, 3));
const run = join(root, 'run');
const trained = await runCli('train', '--model', model, '--train', train, '--task', 'classification', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', run);
assert.equal(trained.code, 0, trained.err);

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const CASES: { name: string; args: string[]; code: number; message?: RegExp }[] = [
  {
    name: 'a label the trained run lacks names run.json and its labels',
    args: ['--adapter', run, '--data', unseen],
    code: 2,
    message: new RegExp(`unseen\\.jsonl line 2: label "neutral" does not occur in the labels the model was trained with \\(run\\.json in ${esc(run)}: neg, pos\\)`),
  },
  {
    name: "a label outside the model config's labels names config.json",
    args: ['--task', 'classification', '--data', unseen],
    code: 2,
    message: new RegExp(`line 1: label "pos" does not occur in the model's labels \\(num_labels in ${esc(join(model, 'config.json'))}: 0, 1\\)`),
  },
  {
    name: 'labelled data with no --adapter or --task for a causal LM is refused',
    args: ['--data', dev],
    code: 2,
    message: new RegExp(
      `--data: ${esc(dev)} looks like classification data \\(its records have a "label" field\\), but the model in ${esc(model)} has no trained classifier.*; ` +
        'pass --adapter RUN_DIR of a classification run, or --task causal-lm to score the text as language modelling',
    ),
  },
  { name: 'labelled data scored as text when --task causal-lm says so', args: ['--task', 'causal-lm', '--data', dev], code: 0 },
  { name: 'labelled data with the classification run', args: ['--adapter', run, '--data', dev], code: 0 },
  { name: 'causal-LM data with no --adapter or --task', args: ['--data', lm], code: 0 },
];

for (const c of CASES) {
  test(`eval: ${c.name}`, async () => {
    const r = await runCli('eval', '--model', model, ...c.args);
    assert.equal(r.code, c.code, r.err);
    if (c.message) assert.match(r.err, c.message);
  });
}

// --task builtin:NAME in `train` and `compare`: the task's splits replace --train/--eval, the
// comparison also scores the test split, and conflicting options are usage errors (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunFile } from '../train/run-file.js';
import { builtinDataSpec } from '../train/run-data.js';
import { tempDir } from '../train/testing.js';
import { runCli, writeTinyByteModel } from './testing.js';

const root = tempDir('lorapro-builtin-');
const model = join(root, 'model');
await writeTinyByteModel(model);

const run = runCli;

test('builtinDataSpec reads builtin:NAME and ?max-train=N, and names the tasks for an unknown one', () => {
  assert.equal(builtinDataSpec('data/train.jsonl'), undefined);
  assert.deepEqual(builtinDataSpec('builtin:spam'), { name: 'spam' });
  assert.deepEqual(builtinDataSpec('builtin:name-gender?max-train=40'), { name: 'name-gender', maxTrain: 40 });
  assert.throws(() => builtinDataSpec('builtin:nope'), /unknown built-in task "nope".*name-gender/);
  assert.throws(() => builtinDataSpec('builtin:spam?max-train=0'), /max-train=N with N ≥ 1/);
});

const common = ['--model', model, '--task', 'builtin:name-gender', '--max-train', '24', '--max-length', '16', '--max-steps', '2', '--batch-size', '8', '--no-diagnostics'];

test('train --task builtin:NAME trains on the task\'s train split and evaluates on its validation split', async () => {
  const out = join(root, 'train');
  const r = await run('train', ...common, '--method', 'lora', '--out', out);
  assert.equal(r.code, 0, r.err);
  const file = await readRunFile(out);
  assert.equal(file?.config.task, 'classification');
  assert.equal(file?.config.train, 'builtin:name-gender?max-train=24');
  assert.deepEqual(file?.labels, ['female', 'male']);
  assert.equal(file?.trainExamples, 24);
  assert.equal(file?.evalExamples, 300); // BUILTIN_SPLIT_SIZES.validation
  assert.match(r.out, /final eval \(300 examples\)/);
});

test('conflicting or misplaced options are usage errors', async () => {
  const cases: [string[], RegExp][] = [
    [['train', ...common, '--method', 'lora', '--out', join(root, 'x1'), '--train', 'a.jsonl'], /brings its own data; drop --train/],
    [['train', ...common, '--method', 'lora', '--out', join(root, 'x2'), '--eval', 'a.jsonl'], /drop --eval/],
    [['train', '--model', model, '--task', 'builtin:nope', '--method', 'lora', '--out', join(root, 'x3')], /unknown built-in task "nope"/],
    [['train', '--model', model, '--task', 'classification', '--max-train', '3', '--train', 'a.jsonl', '--method', 'lora', '--out', join(root, 'x4')], /--max-train applies only to --task builtin/],
    [['train', '--model', model, '--task', 'classification', '--method', 'lora', '--out', join(root, 'x5')], /missing required option --train/],
  ];
  for (const [argv, message] of cases) {
    const r = await run(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
  }
});

test('compare --task builtin:NAME also reports every method\'s test-split metrics', async () => {
  const out = join(root, 'cmp');
  const r = await run('compare', ...common, '--methods', 'full,lora,lora-pro@pissa', '--seeds', '0', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(join(out, 'results.md')));
  const md = readFileSync(join(out, 'test-results.md'), 'utf8');
  assert.match(md, /\| full \| \d\.\d{4} ± 0\.0000 \|/);
  assert.match(md, /\| lora \| \d\.\d{4} ± 0\.0000 \|/);
  // NAME@INIT: LoRA-Pro on a PiSSA start, its own row and folder, the init in run.json
  assert.match(md, /\| lora-pro@pissa \| \d\.\d{4} ± 0\.0000 \|/);
  const pissa = await readRunFile(join(out, 'lora-pro@pissa', 'seed-0'));
  assert.deepEqual([pissa?.config.method, pissa?.config.init], ['lora-pro', 'pissa']);
  assert.match(r.out, /test accuracy/);
});

test('compare --task builtin:NAME keeps a method whose runs stopped in the test table, saying how', async () => {
  const out = join(root, 'cmp-diverged');
  const r = await run('compare', ...common, '--methods', 'lora', '--lr', '1e6', '--seeds', '0', '--out', out);
  assert.equal(r.code, 1, r.err); // a run that did not complete fails the command
  const md = readFileSync(join(out, 'test-results.md'), 'utf8');
  assert.match(md, /^\| lora \| - \| - \| - \| 0 \(seed 0 diverged\) \|$/m);
});

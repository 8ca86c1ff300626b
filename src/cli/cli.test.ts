// The lorapro command line as a user meets it: --help everywhere, bad inputs answered with a clear
// message and exit code 2, and one train → eval → merge → generate → info round through the real
// executable. Every method end to end is in cli.slow.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lmRecords, sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { COMMANDS } from './cli.js';
import { runCli } from './testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

const root = tempDir('lorapro-cli-');
const model = await writeTinyModel(join(root, 'model'), 'gpt2');
const train = writeJsonl(join(root, 'train.jsonl'), sentimentRecords(32, 1));
const dev = writeJsonl(join(root, 'dev.jsonl'), sentimentRecords(8, 2));
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(24, 3));

/** Runs main() in this process, capturing what it prints. */
const run = runCli;

/** Runs the real executable. */
function cli(...argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...argv], { cwd: root, encoding: 'utf8', env: { ...process.env, LORAPRO_BACKEND: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const base = ['train', '--model', model, '--train', train, '--eval', dev, '--task', 'classification', '--max-steps', '2'];
let outs = 0;
const out = () => join(root, `out-${outs++}`);

test('--help works for lorapro and every command, naming each option', async () => {
  const top = await run('--help');
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.ok(top.out.includes(c.name), c.name);
  for (const c of COMMANDS) {
    const r = await run(c.name, '--help');
    assert.equal(r.code, 0, c.name);
    assert.ok(r.out.startsWith(`Usage: lorapro ${c.name}`), r.out);
    for (const o of c.options) assert.ok(r.out.includes(`--${o.key.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}`), `${c.name} --help lists ${o.key}`);
  }
  const none = await run();
  assert.equal(none.code, 2, 'no command is bad usage');
});

const BAD_INPUTS: { name: string; args: () => string[]; message: RegExp }[] = [
  { name: 'missing training file', args: () => [...base, '--method', 'lora', '--out', out(), '--train', join(root, 'nope.jsonl')], message: /--train: file not found: .*nope\.jsonl/ },
  { name: 'missing model folder', args: () => [...base, '--method', 'lora', '--out', out(), '--model', join(root, 'no-model')], message: /--model: folder not found/ },
  {
    name: 'malformed JSONL line',
    args: () => {
      const f = join(root, 'broken.jsonl');
      writeFileSync(f, '{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n{"text": "oops", "label": \n');
      return [...base, '--method', 'lora', '--out', out(), '--train', f];
    },
    message: /broken\.jsonl line 3: invalid JSON/,
  },
  {
    name: 'missing field',
    args: () => [...base, '--method', 'lora', '--out', out(), '--train', writeJsonl(join(root, 'nolabel.jsonl'), [{ text: 'good', label: 'pos' }, { text: 'bad', label: 'neg' }, { text: 'fun' }])],
    message: /nolabel\.jsonl line 3: field "label" is missing/,
  },
  {
    name: 'eval label the training file lacks',
    args: () => [...base, '--method', 'lora', '--out', out(), '--eval', writeJsonl(join(root, 'unseen.jsonl'), [{ text: 'good', label: 'pos' }, { text: 'meh', label: 'neutral' }])],
    message: /unseen\.jsonl line 2: label "neutral" does not occur in the training file \S*train\.jsonl \(training labels: neg, pos\)/,
  },
  {
    name: 'empty dataset',
    args: () => {
      const f = join(root, 'empty.jsonl');
      writeFileSync(f, '');
      return [...base, '--method', 'lora', '--out', out(), '--train', f];
    },
    message: /empty\.jsonl: the dataset has no records/,
  },
  { name: 'unknown method', args: () => [...base, '--method', 'qlora', '--out', out()], message: /unknown method "qlora"; choose one of: full, lora, rslora, lora-plus, lora-pro, lora-pro-efficient, lora-pro-sgd, dora, lora-fa/ },
  { name: 'an init with a bad iteration count', args: () => [...base, '--method', 'lora', '--init', 'pissa_niter_x', '--out', out()], message: /init "pissa_niter_x": K of pissa_niter_K must be a whole number/ },
  { name: 'DoRA on a base-rewriting init', args: () => [...base, '--method', 'dora', '--init', 'olora', '--out', out()], message: /DoRA with initLoraWeights "olora" is not supported/ },
  { name: 'rank larger than the layer', args: () => [...base, '--method', 'lora-pro', '--rank', '64', '--out', out()], message: /cannot adapt "transformer\.h\.0\.attn\.c_attn": LoRA rank 64 exceeds min\(out, in\) = 16/ },
  { name: 'target module that matches nothing', args: () => [...base, '--method', 'lora', '--target-modules', 'q_proj,v_proj', '--out', out()], message: /target modules \["q_proj","v_proj"\] match no linear layer; available: .*c_attn/ },
  { name: 'a flag value of the wrong type', args: () => [...base, '--method', 'lora', '--rank', 'eight', '--out', out()], message: /--rank must be an integer, got "eight"/ },
  { name: 'an unknown flag', args: () => [...base, '--method', 'lora', '--rnak', '8', '--out', out()], message: /Unknown option '--rnak'/ },
  { name: 'a missing required option', args: () => ['train', '--model', model, '--train', train, '--task', 'classification', '--method', 'lora'], message: /missing --out/ },
  {
    name: 'an unknown key in --config',
    args: () => {
      const f = join(root, 'cfg.json');
      writeFileSync(f, JSON.stringify({ model, ranks: 4 }));
      return ['train', '--config', f];
    },
    message: /--config .*cfg\.json: unknown option "ranks"/,
  },
];

for (const bad of BAD_INPUTS) {
  test(`bad input, exit code 2: ${bad.name}`, async () => {
    const r = await run(...bad.args());
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, bad.message);
    assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
  });
}

test('the executable: train (with --config), eval --json, merge, eval of the merged model, info', () => {
  const dir = out();
  const config = join(root, 'run-config.json');
  writeFileSync(config, JSON.stringify({ model, train, eval: dev, task: 'classification', method: 'lora-pro', 'max-steps': 6, lr: 0.01, rank: 4 }));
  const t = cli('train', '--config', config, '--out', dir, '--batch-size', '4');
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /lora-pro: 6 steps/);

  const e = cli('eval', '--model', model, '--adapter', dir, '--data', dev, '--json');
  assert.equal(e.code, 0, e.err);
  const metrics = JSON.parse(e.out.trim().split('\n').pop()!);
  assert.equal(metrics.examples, 8);
  for (const k of ['loss', 'accuracy', 'macroF1', 'mcc']) assert.equal(typeof metrics[k], 'number', k);

  const merged = join(root, 'merged');
  const m = cli('merge', '--model', model, '--adapter', dir, '--out', merged);
  assert.equal(m.code, 0, m.err);
  const e2 = cli('eval', '--model', merged, '--data', dev, '--json');
  assert.equal(e2.code, 0, e2.err);
  const mergedMetrics = JSON.parse(e2.out.trim().split('\n').pop()!);
  assert.equal(mergedMetrics.accuracy, metrics.accuracy);
  assert.ok(Math.abs(mergedMetrics.loss - metrics.loss) < 1e-4, `merged loss ${mergedMetrics.loss} vs adapter ${metrics.loss}`);

  const i = cli('info', '--model', model, '--rank', '4');
  assert.equal(i.code, 0, i.err);
  for (const method of ['full', 'lora', 'lora-pro', 'lora-pro-sgd']) assert.match(i.out, new RegExp(`^${method}\\s+\\S+`, 'm'));
});

test('the executable: causal-LM training and generate with the adapter', () => {
  const dir = out();
  const t = cli('train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--max-steps', '3', '--out', dir);
  assert.equal(t.code, 0, t.err);
  const g = cli('generate', '--model', model, '--adapter', dir, '--prompt', 'what is two plus two ?', '--max-new-tokens', '5');
  assert.equal(g.code, 0, g.err);
  assert.ok(g.out.trim().split(/\s+/).length <= 5, g.out);
  const bad = cli('generate', '--model', model, '--prompt', 'hi', '--temperature=-1');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /temperature must be/);
});

test('a run that diverges exits with code 1 and names the step', () => {
  const r = cli(...base.slice(0, -1), '6', '--method', 'full', '--lr', '1e30', '--clip-norm', '1e30', '--save-every', '1', '--out', out());
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /step \d+: the run is diverging: .*Try a smaller learning rate, e\.g\. --lr 1e\+29/);
});

// The run as a user controls it from the command line: Ctrl-C on the real executable (a clean stop,
// a checkpoint, exit 130, a resume hint that works), --resume with nothing to resume, and --lr's
// accepted values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointSteps } from '../train/checkpoint.js';
import { sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const root = tempDir('lorapro-control-');
const model = await writeTinyModel(join(root, 'model'), 'gpt2');
const train = writeJsonl(join(root, 'train.jsonl'), sentimentRecords(32, 1));
const dev = writeJsonl(join(root, 'dev.jsonl'), sentimentRecords(8, 2));
const base = ['train', '--model', model, '--train', train, '--eval', dev, '--task', 'classification', '--method', 'lora', '--lr', '0.01'];
let outs = 0;
const out = () => join(root, `out-${outs++}`);

/** Lines in OUT/metrics.jsonl so far. */
const logged = (dir: string) => (existsSync(join(dir, 'metrics.jsonl')) ? readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0);

test('Ctrl-C: the step finishes, a checkpoint is written, exit 130 with the command to resume; --resume finishes the run', async () => {
  const dir = out();
  const child = spawn(process.execPath, [MAIN, ...base, '--max-steps', '300', '--save-every', '1000', '--eval-every', '1000', '--out', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  while (logged(dir) < 3) {
    assert.ok(Date.now() - started < 60_000, `no steps logged within a minute:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /SIGINT: finishing the current step and writing a checkpoint/);
  const m = /interrupted at step (\d+) of 300; the checkpoint (\S+) holds it/.exec(stderr);
  assert.ok(m, stderr);
  assert.deepEqual(await checkpointSteps(join(dir, 'checkpoints')), [Number(m[1])]);
  assert.equal(logged(dir), Number(m[1]), 'every trained step is in metrics.jsonl');
  const hint = /to continue: lorapro (train .*--resume)$/m.exec(stderr);
  assert.ok(hint && hint[1].includes(`--out ${dir}`), stderr);
  const resumed = await runCli(...hint[1].split(' '));
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.out, /^lora: 300 steps in /m);
  assert.equal(logged(dir), 300);
});

test('--resume with nothing to resume exits 2 naming the folder; --resume-or-start starts it', async () => {
  const dir = out();
  const none = await runCli(...base, '--max-steps', '2', '--out', dir, '--resume');
  assert.equal(none.code, 2, none.err);
  assert.match(none.err, /--resume: there is no run to continue in .*out-\d+ \(no checkpoint/);
  const both = await runCli(...base, '--max-steps', '2', '--out', dir, '--resume', '--resume-or-start');
  assert.equal(both.code, 2);
  const start = await runCli(...base, '--max-steps', '2', '--out', dir, '--resume-or-start');
  assert.equal(start.code, 0, start.err);
  const again = await runCli(...base, '--max-steps', '2', '--out', dir, '--resume-or-start');
  assert.equal(again.code, 0, 'continuing a finished run is fine');
});

test('--lr takes a number or auto, and names anything else', async () => {
  const bad = await runCli(...base.slice(0, -1), 'fast', '--max-steps', '2', '--out', out());
  assert.equal(bad.code, 2);
  assert.match(bad.err, /lr \(--lr\) must be a positive number, "auto" or "recommended", got "fast"/);
  const grid = await runCli(...base.slice(0, -1), 'auto', '--lr-grid', '0.01,x', '--max-steps', '2', '--out', out());
  assert.equal(grid.code, 2);
  assert.match(grid.err, /--lr-grid\) must be a comma-separated list of positive numbers/);
  const auto = await runCli(...base.slice(0, -1), 'auto', '--lr-grid', '0.003,0.03', '--lr-search-steps', '2', '--max-steps', '3', '--out', out());
  assert.equal(auto.code, 0, auto.err);
  assert.match(auto.out, /^lora: 3 steps in .* at lr 0\.0?3 \(chosen by the search\)|^lora: 3 steps in .* at lr 0\.003 \(chosen by the search\)/m);
});

test('info says each method\'s recommended rate, where it comes from, and the grid a run without --lr searches', async () => {
  const shipped = await runCli('info', '--model', join(process.cwd(), 'models', 'lorapro-base'));
  assert.equal(shipped.code, 0, shipped.err);
  assert.match(shipped.out, /^ {2}full {15}0\.001 +lorapro\.json +0\.0003, 0\.001, 0\.003$/m);
  assert.match(shipped.out, /^ {2}lora-pro-sgd {7}1 +width rule \(128\) +0\.3, 1, 3$/m);
  const tiny = await runCli('info', '--model', model, '--method', 'lora');
  assert.match(tiny.out, /^ {2}lora {15}0\.024 +width rule \(16\) +0\.01, 0\.03, 0\.1$/m);
});

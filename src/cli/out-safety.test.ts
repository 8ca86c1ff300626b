// --out from the command line: merge never writes over a model, a second process on a run's --out is
// refused naming the first, and a run killed before its first checkpoint (kill -9) or stopped by
// the divergence guard restarts by following the messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCK_FILE } from '../run/out-lock.js';
import { sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const root = tempDir('lorapro-out-');
const model = await writeTinyModel(join(root, 'model'), 'gpt2');
const train = writeJsonl(join(root, 'train.jsonl'), sentimentRecords(32, 1));
const dev = writeJsonl(join(root, 'dev.jsonl'), sentimentRecords(8, 2));
const base = ['train', '--model', model, '--train', train, '--eval', dev, '--task', 'classification', '--method', 'lora'];
const logged = (dir: string) => (existsSync(join(dir, 'metrics.jsonl')) ? readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).length : 0);

test('merge refuses --out equal to --model (also through a symlink) and an --out holding a model; --force replaces the latter only', async () => {
  const run = join(root, 'run-merge');
  assert.equal((await runCli(...base, '--lr', '0.01', '--max-steps', '2', '--out', run)).code, 0);
  const weights = join(model, 'model.safetensors');
  const before = readFileSync(weights);
  const mtime = statSync(weights).mtimeMs;
  const link = join(root, 'model-link');
  symlinkSync(model, link);
  for (const out of [model, link, `${model}/`]) {
    for (const force of [[], ['--force']]) {
      const r = await runCli('merge', '--model', model, '--adapter', run, '--out', out, ...force);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /--out .*model.* is the --model folder; writing there would replace the base model\. Choose a new folder for --out/);
    }
  }
  const other = join(root, 'other-model');
  cpSync(model, other, { recursive: true });
  const kept = readFileSync(join(other, 'model.safetensors'));
  const refused = await runCli('merge', '--model', model, '--adapter', run, '--out', other);
  assert.equal(refused.code, 2, refused.err);
  assert.match(refused.err, /--out .*other-model already holds a model \(config\.json, model\.safetensors\); writing there would replace it\. Choose a new folder for --out, or pass --force to replace them/);
  assert.ok(readFileSync(join(other, 'model.safetensors')).equals(kept));
  const forced = await runCli('merge', '--model', model, '--adapter', run, '--out', other, '--force');
  assert.equal(forced.code, 0, forced.err);
  assert.ok(!readFileSync(join(other, 'model.safetensors')).equals(kept), 'replaced when asked');
  assert.equal((await runCli('merge', '--model', model, '--adapter', run, '--out', join(root, 'merged'))).code, 0, 'a new folder is fine');
  assert.ok(readFileSync(weights).equals(before) && statSync(weights).mtimeMs === mtime, 'the base model is untouched');
});

test('a second process on a running --out is refused naming the pid; after kill -9 before the first checkpoint the messages lead to --resume-or-start, which works', async () => {
  const dir = join(root, 'run-killed');
  const args = [...base, '--lr', '0.01', '--max-steps', '200', '--save-every', '1000', '--eval-every', '1000', '--out', dir];
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const started = Date.now();
  while (logged(dir) < 2) {
    assert.ok(Date.now() - started < 60_000, `no steps logged within a minute:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const second = await runCli(...args);
  assert.equal(second.code, 2, second.err);
  assert.match(second.err, new RegExp(`run-killed is in use by another run: process ${child.pid} on .*Wait for it to end or choose another --out`));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(join(dir, LOCK_FILE)), 'kill -9 leaves its lock');
  assert.ok(!existsSync(join(dir, 'checkpoints')), 'killed before its first checkpoint');

  const plain = await runCli(...args);
  assert.equal(plain.code, 2, plain.err);
  assert.doesNotMatch(plain.err, /in use by another run/, 'the dead process\'s lock was taken over (the warning goes to the progress stream)');
  assert.match(plain.err, /run-killed already holds a run that stopped before its first checkpoint; start it again with --resume-or-start/);
  const resume = await runCli(...args, '--resume');
  assert.equal(resume.code, 2, resume.err);
  assert.match(resume.err, /--resume: .*run-killed holds a run with no checkpoint yet .*start it again with --resume-or-start/);
  const restart = await runCli(...args, '--resume-or-start');
  assert.equal(restart.code, 0, restart.err);
  assert.equal(logged(dir), 200, 'every step logged once');
  assert.ok(!existsSync(join(dir, LOCK_FILE)));
});

test('a run stopped by the divergence guard names a command that works: a lower --lr in a new --out, or after removing --out', async () => {
  const dir = join(root, 'run-diverged');
  const diverged = await runCli(...base, '--lr', '1e6', '--save-every', '1', '--max-steps', '4', '--out', dir);
  assert.equal(diverged.code, 1, diverged.err);
  assert.match(diverged.err, /Try a smaller learning rate, e\.g\. --lr 100000 \(it was 1000000\), or --lr auto, with a new --out \(or remove .*run-diverged first\)/);
  const again = await runCli(...base, '--lr', '0.01', '--max-steps', '2', '--out', dir);
  assert.equal(again.code, 2, again.err);
  assert.match(again.err, /run-diverged already holds a finished or stopped run \(report\.html\); to train again choose another --out, or remove .*run-diverged/);
  assert.equal((await runCli(...base, '--lr', '0.01', '--max-steps', '2', '--out', join(root, 'run-lower'))).code, 0, 'a new --out');
  rmSync(dir, { recursive: true });
  assert.equal((await runCli(...base, '--lr', '0.01', '--max-steps', '2', '--out', dir)).code, 0, 'after removing --out');
});

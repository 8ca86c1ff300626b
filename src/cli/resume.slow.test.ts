// Kill -9 at a random step, then --resume: the final weights must equal those of a run that was
// never interrupted. Slow: run with `npm run test:slow`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const root = tempDir('lorapro-resume-');
const model = await writeTinyModel(join(root, 'model'), 'llama');
const train = writeJsonl(join(root, 'train.jsonl'), sentimentRecords(48, 1));
const dev = writeJsonl(join(root, 'dev.jsonl'), sentimentRecords(8, 2));
const STEPS = 30;

const args = (method: string, out: string) => [
  MAIN, 'train', '--model', model, '--train', train, '--eval', dev, '--task', 'classification', '--method', method,
  '--max-steps', String(STEPS), '--batch-size', '4', '--rank', '4', '--lora-dropout', '0.1', '--save-every', '3', '--eval-every', '5', '--lr', '0.005', '--out', out,
];

const loggedSteps = (out: string): number => {
  const path = join(out, 'metrics.jsonl');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).length : 0;
};

/** Starts a run and SIGKILLs it once metrics.jsonl shows `killAt` steps. */
function runAndKill(method: string, out: string, killAt: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args(method, out), { stdio: 'ignore' });
    const timer = setInterval(() => {
      if (loggedSteps(out) >= killAt) child.kill('SIGKILL');
    }, 10);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the run ended by itself (code ${code}) before step ${killAt}`));
    });
  });
}

const weightsFile = (method: string) => (method === 'full' ? 'model.safetensors' : 'adapter_model.safetensors');

for (const method of ['lora-pro', 'lora', 'full']) {
  test(`${method}: SIGKILL at a random step, then --resume, ends on the uninterrupted run's weights`, async () => {
    const straight = join(root, `${method}-straight`);
    const r = spawnSync(process.execPath, args(method, straight), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);

    const killAt = 2 + Math.floor(Math.random() * (STEPS - 6));
    const killed = join(root, `${method}-killed`);
    await runAndKill(method, killed, killAt);
    const stepsBefore = loggedSteps(killed);
    assert.ok(!existsSync(join(killed, weightsFile(method))), 'killed before the end');
    // a kill before the first checkpoint leaves nothing to resume (strict --resume refuses that): --resume-or-start, as a restarted job uses
    const resumed = spawnSync(process.execPath, [...args(method, killed), '--resume-or-start'], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /resumed from .*step-\d+ at step \d+|no checkpoint in .* yet/, resumed.stderr);

    const a = readFileSync(join(straight, weightsFile(method)));
    const b = readFileSync(join(killed, weightsFile(method)));
    assert.ok(a.equals(b), `killed at step ${stepsBefore} (aimed at ${killAt}): final weights differ`);
    const losses = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
    assert.deepEqual(losses(killed), losses(straight));
  });
}

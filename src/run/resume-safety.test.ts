// What --resume may not do silently: continue on a data file whose bytes changed, stop at a damaged
// newest checkpoint, share --out with a run in progress, or write a run over a model folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../engine/backend.js';
import { checkpointName, checkpointSteps, OPTIMIZER_FILE, STATE_FILE, TRAINABLE_FILE } from '../train/checkpoint.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { UsageError } from '../train/errors.js';
import { InputFileError } from '../io/input-error.js';
import { classificationFixture, sentimentRecords, writeJsonl, writeTinyModel } from '../train/testing.js';
import { LOCK_FILE } from './out-lock.js';
import { train } from './train.js';

await useBackend();
const fixture = await classificationFixture();
const root = fixture.root;
const config = (over: Record<string, unknown> = {}): TrainConfig => fixture.config({ lr: 1e-2, ...over });
const isUsage = (pattern: RegExp) => (e: Error) => e instanceof UsageError && pattern.test(e.message);
const adapter = (c: TrainConfig) => readFileSync(join(c.out, 'adapter_model.safetensors'));
const collect = () => {
  const lines: string[] = [];
  return { lines, log: (l: string) => void lines.push(l) };
};

test('--resume refuses a training or evaluation file whose bytes changed, unless --allow-data-change', async () => {
  const data = writeJsonl(join(root, 'changing.jsonl'), sentimentRecords(40, 1));
  const dev = writeJsonl(join(root, 'changing-dev.jsonl'), sentimentRecords(12, 2));
  const cfg = config({ train: data, eval: dev, maxSteps: 2 });
  assert.equal((await train(cfg)).status, 'completed');
  const recorded = JSON.parse(readFileSync(join(cfg.out, 'run.json'), 'utf8')).data;
  // sha256 of the bytes by an independent route: the coreutils tool
  const sha = (f: string) => spawnSync('sha256sum', [f], { encoding: 'utf8' }).stdout.split(' ')[0];
  assert.deepEqual(recorded, { train: { bytes: readFileSync(data).length, sha256: sha(data) }, eval: { bytes: readFileSync(dev).length, sha256: sha(dev) } });

  // the same rows with the labels swapped: same size, other bytes
  writeFileSync(data, readFileSync(data, 'utf8').replace(/"pos"/g, '"tmp"').replace(/"neg"/g, '"pos"').replace(/"tmp"/g, '"neg"'));
  const resume = trainConfig({ ...cfg, resume: true });
  await assert.rejects(train(resume), isUsage(/--resume: the data changed since the run in .* started: --train .*changing\.jsonl \(\d+ bytes, sha256 [0-9a-f]{12}… when the run started; now .*--allow-data-change/));
  const warned = collect();
  assert.equal((await train(trainConfig({ ...resume, allowDataChange: true }), { log: warned.log })).status, 'completed');
  assert.match(warned.lines.join('\n'), /warning: the data changed .*changing\.jsonl.*continuing on the new data/);
  assert.equal(JSON.parse(readFileSync(join(cfg.out, 'run.json'), 'utf8')).data.train.sha256, sha(data), 'the new bytes are recorded');
  assert.equal(JSON.parse(readFileSync(join(cfg.out, 'run.json'), 'utf8')).config.allowDataChange, undefined, 'a one-time permission, not a setting');
  assert.equal((await train(resume)).status, 'completed', 'unchanged since: resumes');

  writeFileSync(dev, readFileSync(dev, 'utf8').split('\n').slice(1).join('\n')); // a row removed
  await assert.rejects(train(resume), isUsage(/--eval .*changing-dev\.jsonl/));
});

test('a run.json from before fingerprints: --resume warns and goes on', async () => {
  const cfg = config({ maxSteps: 2 });
  await train(cfg);
  const file = join(cfg.out, 'run.json');
  const { data: _data, ...old } = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(file, JSON.stringify(old));
  const warned = collect();
  assert.equal((await train(trainConfig({ ...cfg, resume: true }), { log: warned.log })).status, 'completed');
  assert.match(warned.lines.join('\n'), /warning: .*run\.json has no fingerprint of the data .*cls\.jsonl and .*cls-dev\.jsonl is unchanged/);
});

test('a damaged newest checkpoint: --resume warns naming it, continues from the one before, and ends on the uninterrupted run\'s weights', async () => {
  const over = { maxSteps: 6, saveEvery: 2, evalEvery: 100, keepCheckpoints: 2 };
  const straight = config(over);
  await train(straight);
  const stopped = config(over);
  const controller = new AbortController();
  await train(stopped, { signal: controller.signal, onStep: (step) => void (step === 4 && controller.abort()) });
  assert.deepEqual(await checkpointSteps(join(stopped.out, 'checkpoints')), [2, 4]);
  const newest = (dir: string) => join(dir, 'checkpoints', checkpointName(4));
  const damages: [string, (dir: string) => void, RegExp][] = [
    ['truncated weights', (d) => truncateSync(join(newest(d), TRAINABLE_FILE), 40), /step-000004\/trainable\.safetensors/],
    ['bad JSON', (d) => writeFileSync(join(newest(d), STATE_FILE), '{"step": 4,'), /step-000004\/state\.json/],
    ['no optimizer file', (d) => unlinkSync(join(newest(d), OPTIMIZER_FILE)), /step-000004\/optimizer\.safetensors: missing/],
  ];
  for (const [name, damage, says] of damages) {
    const copy = config(over);
    cpSync(stopped.out, copy.out, { recursive: true });
    damage(copy.out);
    const warned = collect();
    const result = await train(trainConfig({ ...copy, resume: true }), { log: warned.log });
    assert.equal(result.status, 'completed', name);
    const said = warned.lines.join('\n');
    assert.match(said, says, name);
    assert.match(said, /resumed from .*step-000002 at step 2 of 6/, name);
    assert.doesNotMatch(said, /ENOENT/, name);
    assert.ok(adapter(copy).equals(adapter(straight)), `${name}: byte-identical adapter`);
  }

  const broken = config(over);
  cpSync(stopped.out, broken.out, { recursive: true });
  for (const step of [2, 4]) unlinkSync(join(broken.out, 'checkpoints', checkpointName(step), OPTIMIZER_FILE));
  await assert.rejects(train(trainConfig({ ...broken, resume: true })), (e: Error) => {
    assert.ok(e instanceof InputFileError, String(e));
    assert.match(e.message, /every checkpoint is damaged: .*step-000004\/optimizer\.safetensors: missing; .*step-000002\/optimizer\.safetensors: missing\. Remove .*checkpoints and start the run again with --resume-or-start/);
    return true;
  });
});

test('one run per --out: a second run is refused naming the first one\'s pid, and the lock goes when the run ends', async () => {
  const cfg = config({ maxSteps: 3 });
  let refused: unknown;
  const result = await train(cfg, {
    onStep: async (step) => {
      if (step !== 2) return;
      refused = await train(cfg).then(() => undefined, (e: Error) => e);
      assert.ok(existsSync(join(cfg.out, LOCK_FILE)), 'the refused run leaves the holder\'s lock');
    },
  });
  assert.equal(result.status, 'completed');
  assert.ok(refused instanceof UsageError, String(refused));
  assert.match((refused as Error).message, new RegExp(`is in use by another run: process ${process.pid} on ${hostname()}, started `));
  assert.ok(!existsSync(join(cfg.out, LOCK_FILE)), 'released at the end');

  const failed = config({ maxSteps: 2, resume: true });
  await assert.rejects(train(failed), isUsage(/no run to continue/));
  assert.ok(!existsSync(failed.out), 'a refused run leaves no folder behind');
});

test('a lock left by a dead process is taken over with a warning; one from another host is not', async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(dead.stdout); // exited: no process has this pid now (pids are not reused this soon)
  const cfg = config({ maxSteps: 2 });
  mkdirSync(cfg.out);
  writeFileSync(join(cfg.out, LOCK_FILE), JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z' }));
  const warned = collect();
  assert.equal((await train(cfg, { log: warned.log })).status, 'completed');
  assert.match(warned.lines.join('\n'), new RegExp(`warning: .*\\.lorapro\\.lock was left by process ${pid} .*no longer running; this run takes .* over`));
  assert.ok(!existsSync(join(cfg.out, LOCK_FILE)));

  const other = config({ maxSteps: 2 });
  mkdirSync(other.out);
  writeFileSync(join(other.out, LOCK_FILE), JSON.stringify({ pid, host: 'another-host', started: '2026-01-01T00:00:00.000Z' }));
  await assert.rejects(train(other), isUsage(new RegExp(`in use by another run: process ${pid} on another-host.*if that process is gone, remove .*\\.lorapro\\.lock`)));
});

test('train never writes into the --model folder nor over a folder holding a model', async () => {
  const model = await writeTinyModel(join(root, 'victim'), 'gpt2');
  const weights = () => readFileSync(join(model, 'model.safetensors'));
  const before = weights();
  const link = join(root, 'victim-link');
  symlinkSync(model, link);
  for (const method of ['full', 'lora']) {
    await assert.rejects(train(config({ model, method, out: model })), isUsage(/--out .*victim is the --model folder; writing there would replace the base model/));
    await assert.rejects(train(config({ model: link, method, out: model })), isUsage(/is the --model folder/), 'a symlink to it is the same folder');
    await assert.rejects(train(config({ method, out: model })), isUsage(/--out .*victim already holds a model \(config\.json, model\.safetensors\); writing there would replace it\. Choose a new folder for --out/));
  }
  assert.ok(weights().equals(before), 'untouched');
  assert.ok(!existsSync(join(model, 'run.json')) && !existsSync(join(model, LOCK_FILE)));
  const full = config({ method: 'full', maxSteps: 2 });
  await train(full);
  assert.equal((await train(trainConfig({ ...full, resume: true }))).status, 'completed', "a full run's own model.safetensors does not block its --resume");
});

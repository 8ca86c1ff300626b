import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { AdamW } from '../optim/adamw.js';
import { checkpointName, checkpointSteps, CorruptCheckpointError, latestCheckpoint, loadCheckpoint, OPTIMIZER_FILE, pruneCheckpoints, saveCheckpoint, STATE_FILE } from './checkpoint.js';
import { tempDir } from './testing.js';

const params = () =>
  new Map<string, tf.Variable>([
    ['a.weight', tf.variable(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'float32'))],
    ['a.bias', tf.variable(tf.tensor1d([0.5, -0.5], 'float32'))],
  ]);

const values = async (m: Map<string, tf.Variable>) => Promise.all([...m.values()].map(async (v) => Array.from(await v.data())));

test('a checkpoint restores the weights, the optimiser state and the loop state exactly', async () => {
  await useBackend('cpu');
  const root = join(tempDir(), 'checkpoints');
  const p = params();
  const opt = new AdamW(p, { lr: 0.1 });
  const grads = new Map([...p].map(([n, v]) => [n, tf.onesLike(v)] as const));
  await opt.step(grads);
  await opt.step(grads);
  const saved = await values(p);
  const state = { step: 2, position: { epoch: 1, batchIndex: 3 }, rng: [12345], tokens: 99, elapsedS: 1.5, best: { step: 2, metric: 'loss', value: 0.25 } };
  const dir = await saveCheckpoint(root, p, opt, state);
  assert.equal(dir, join(root, checkpointName(2)));

  await opt.step(grads); // move on, then go back
  const restored = new AdamW(p, { lr: 0.1 });
  const loaded = await loadCheckpoint(dir, p, restored);
  assert.deepEqual(await values(p), saved);
  assert.deepEqual({ ...loaded, optimizer: undefined }, { ...state, optimizer: undefined });
  assert.deepEqual(loaded.optimizer, { name: 'adamw', step: 2 });
  // Same state ⇒ the next step is the same as the original optimiser's third step.
  const reference = new AdamW(params(), { lr: 0.1 });
  const refParams = (reference as unknown as { params: Map<string, tf.Variable> }).params;
  await reference.step(grads);
  await reference.step(grads);
  await reference.step(grads);
  await restored.step(grads);
  assert.deepEqual(await values(p), await values(refParams));
  tf.dispose([...grads.values(), ...p.values(), ...refParams.values()]);
  opt.dispose();
  restored.dispose();
  reference.dispose();
});

test('half-written checkpoint folders are ignored and pruned; the best one is kept', async () => {
  await useBackend('cpu');
  const root = join(tempDir(), 'checkpoints');
  const p = params();
  const opt = new AdamW(p, { lr: 0.1 });
  for (const step of [1, 2, 3, 4]) await saveCheckpoint(root, p, opt, { step, position: { epoch: 0, batchIndex: step }, rng: [], tokens: 0, elapsedS: 0 });
  // A kill mid-write leaves a temporary folder, and a step folder without state.json is incomplete.
  mkdirSync(join(root, '.tmp-step-000005-1-abcd'));
  mkdirSync(join(root, checkpointName(6)));
  writeFileSync(join(root, checkpointName(6), 'trainable.safetensors'), 'partial');
  assert.deepEqual(await checkpointSteps(root), [1, 2, 3, 4]);
  assert.equal(await latestCheckpoint(root), join(root, checkpointName(4)));
  await pruneCheckpoints(root, 2, [1]);
  assert.deepEqual(await checkpointSteps(root), [1, 3, 4]);
  assert.ok(!readdirSync(root).some((n) => n.startsWith('.tmp-')), 'temporary folders removed');
  assert.ok(existsSync(join(root, checkpointName(4), STATE_FILE)));
  tf.dispose([...p.values()]);
  opt.dispose();
});

test('loading a checkpoint into parameters of another shape names the parameter', async () => {
  await useBackend('cpu');
  const root = join(tempDir(), 'checkpoints');
  const p = params();
  const opt = new AdamW(p, { lr: 0.1 });
  const dir = await saveCheckpoint(root, p, opt, { step: 1, position: { epoch: 0, batchIndex: 0 }, rng: [], tokens: 0, elapsedS: 0 });
  const other = new Map([['a.weight', tf.variable(tf.zeros([3, 2]))], ['a.bias', tf.variable(tf.zeros([2]))]]);
  await assert.rejects(loadCheckpoint(dir, other, new AdamW(other, { lr: 0.1 })), /"a\.weight" has shape \[2,2\], the model has \[3,2\]/);
  tf.dispose([...p.values(), ...other.values()]);
  opt.dispose();
});

test('a damaged checkpoint is a CorruptCheckpointError naming its file, read before any weight changes', async () => {
  await useBackend('cpu');
  const root = join(tempDir(), 'checkpoints');
  const p = params();
  const opt = new AdamW(p, { lr: 0.1 });
  const dir = await saveCheckpoint(root, p, opt, { step: 1, position: { epoch: 0, batchIndex: 0 }, rng: [], tokens: 0, elapsedS: 0 });
  const other = new Map([['a.weight', tf.variable(tf.zeros([2, 2]))], ['a.bias', tf.variable(tf.zeros([2]))]]);
  const before = await values(other);
  unlinkSync(join(dir, OPTIMIZER_FILE));
  await assert.rejects(loadCheckpoint(dir, other, new AdamW(other, { lr: 0.1 })), (e: Error) => e instanceof CorruptCheckpointError && e.message === `${join(dir, OPTIMIZER_FILE)}: missing`);
  assert.deepEqual(await values(other), before, 'the trainable weights were not assigned from a checkpoint that cannot be loaded whole');
  writeFileSync(join(dir, STATE_FILE), '{"step": 1, "optimizer": ');
  await assert.rejects(loadCheckpoint(dir, other, new AdamW(other, { lr: 0.1 })), (e: Error) => e instanceof CorruptCheckpointError && e.message.startsWith(join(dir, STATE_FILE)));
  tf.dispose([...p.values(), ...other.values()]);
  opt.dispose();
});

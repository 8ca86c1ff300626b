// The training loop on a tiny GPT-2 (and Llama) over small generated datasets, on the default
// backend: reproducibility, no tensor leak, exact resume, divergence handling, outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { TINY } from '../models/testing.js';
import { checkpointName, checkpointSteps } from '../train/checkpoint.js';
import { trainConfig, type TrainConfig } from '../train/config.js';
import { hostBatch } from '../train/run-data.js';
import { UsageError } from '../train/errors.js';
import { readMetrics, type MetricsLine } from '../train/metrics-log.js';
import { lmRecords, sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { stepGradients } from '../train/step.js';
import { train } from './train.js';

await useBackend();
const root = tempDir();
const gpt2 = await writeTinyModel(join(root, 'gpt2'), 'gpt2');
const llama = await writeTinyModel(join(root, 'llama'), 'llama');
const clsTrain = writeJsonl(join(root, 'cls.jsonl'), sentimentRecords(40, 1));
const clsEval = writeJsonl(join(root, 'cls-dev.jsonl'), sentimentRecords(12, 2));
const lmTrain = writeJsonl(join(root, 'lm.jsonl'), lmRecords(40, 3));
let runs = 0;

/** A classification config writing into a fresh folder. */
function config(over: Record<string, unknown> = {}): TrainConfig {
  return trainConfig({ model: gpt2, train: clsTrain, eval: clsEval, task: 'classification', method: 'lora-pro', maxSteps: 8, batchSize: 8, lr: 1e-2, out: join(root, `run-${runs++}`), ...over });
}

const losses = (lines: readonly MetricsLine[]) => lines.map((l) => l.loss);
const metricsOf = (c: TrainConfig) => readMetrics(join(c.out, 'metrics.jsonl'));

test('the same seed twice gives identical losses; another seed does not', async () => {
  const a = config({ seed: 3 });
  const b = config({ seed: 3 });
  const c = config({ seed: 4 });
  for (const cfg of [a, b, c]) assert.equal((await train(cfg)).status, 'completed');
  const [la, lb, lc] = await Promise.all([a, b, c].map(metricsOf));
  assert.equal(la.length, 8, 'one line per step');
  assert.deepEqual(losses(la), losses(lb));
  assert.notDeepEqual(losses(la), losses(lc));
  assert.ok(la[7].loss < la[0].loss, `the loss falls: ${la[0].loss} → ${la[7].loss}`);
});

test('100 steps with gradient accumulation, evaluations and checkpoints leave no tensors behind', async () => {
  const counts = new Map<number, number>();
  const cfg = config({ maxSteps: 100, batchSize: 4, gradAccum: 2, evalEvery: 25, saveEvery: 20 });
  const result = await train(cfg, { onStep: (step) => void counts.set(step, tf.memory().numTensors) });
  assert.equal(result.status, 'completed');
  // Optimiser slots appear at step 1; from then on every step (eval and checkpoint steps included) ends level.
  for (const step of [25, 40, 50, 75, 99, 100]) assert.equal(counts.get(step), counts.get(2), `tensors after step ${step}`);
});

test('a finished run releases its model and optimiser', async () => {
  const before = tf.memory().numTensors;
  await train(config({ maxSteps: 2 }));
  assert.equal(tf.memory().numTensors, before);
});

test('a run that crashes and resumes ends on the weights of one that did not', async () => {
  const over = { method: 'lora', loraDropout: 0.1, maxSteps: 12, saveEvery: 4, evalEvery: 6 }; // dropout: RNG state must be restored
  const straight = config(over);
  await train(straight);
  const crashed = config(over);
  await assert.rejects(train(crashed, { onStep: (step) => { if (step === 7) throw new Error('simulated crash'); } }), /simulated crash/);
  assert.deepEqual(await checkpointSteps(join(crashed.out, 'checkpoints')), [4, 6], 'checkpoints at step 4 and the best eval (6)');
  const resumed = trainConfig({ ...crashed, resume: true });
  const logs: string[] = [];
  assert.equal((await train(resumed, { log: (l) => logs.push(l) })).status, 'completed');
  assert.ok(logs.some((l) => /resumed from .*step-000006 at step 6/.test(l)), logs.join('\n'));
  const weights = (c: TrainConfig) => readFileSync(join(c.out, 'adapter_model.safetensors'));
  assert.ok(weights(straight).equals(weights(crashed)), 'adapter_model.safetensors is byte-identical');
  assert.deepEqual(losses(await metricsOf(crashed)), losses(await metricsOf(straight)), 'metrics.jsonl has each step once, with the same losses');
});

test('a non-finite loss stops the run at that step and keeps the last good checkpoint', async () => {
  const cfg = config({ method: 'full', lr: 1e30, clipNorm: 1e30, saveEvery: 1, maxSteps: 6, divergenceGuard: false }); // the guard would stop it first (weights)
  const result = await train(cfg);
  assert.equal(result.status, 'diverged');
  const lines = await metricsOf(cfg);
  const stoppedAt = lines[lines.length - 1].step;
  assert.match(result.message!, new RegExp(`^step ${stoppedAt}: the run is diverging: the training loss is not finite`));
  assert.ok(result.message!.includes(join(cfg.out, 'checkpoints', checkpointName(stoppedAt - 1))), result.message);
  assert.deepEqual(await checkpointSteps(join(cfg.out, 'checkpoints')), [stoppedAt - 1].filter((s) => s > 0));
  assert.ok(!existsSync(join(cfg.out, 'model.safetensors')), 'no final model is written');
  assert.ok(readFileSync(join(cfg.out, 'report.html'), 'utf8').includes('not finite'), 'the report says why');
});

test('gradients accumulated over two micro-batches equal those of their union', async () => {
  await useBackend('cpu');
  const model = createModel(TINY.gpt2(), { task: 'sequence-classification', numLabels: 2, init: randomInit(5, 0.1) });
  model.setTrainable(true);
  const params = model.trainableParameters();
  const items = [0, 1, 2, 3].map((i) => ({ ids: [1 + i, 5, 9, 2 + i], label: i % 2, line: i + 1 }));
  const whole = stepGradients(model, params, [hostBatch(items, 0)]);
  const parts = stepGradients(model, params, [hostBatch(items.slice(0, 2), 0), hostBatch(items.slice(2), 0)]);
  assert.ok(Math.abs((await whole.loss.data())[0] - (await parts.loss.data())[0]) < 1e-6);
  for (const [name, g] of whole.grads) {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, parts.grads.get(name)!))).dataSync()[0]);
    assert.ok(diff < 1e-5, `${name}: max difference ${diff}`);
  }
  tf.dispose([whole.loss, parts.loss, ...whole.grads.values(), ...parts.grads.values()]);
  model.dispose();
  await useBackend();
});

test('classification: eval metrics, the per-layer diagnostic and the output folder', async () => {
  const cfg = config({ evalEvery: 4 });
  const result = await train(cfg);
  const lines = await metricsOf(cfg);
  const evals = lines.filter((l) => l.eval);
  assert.deepEqual(evals.map((l) => l.step), [4, 8]);
  assert.deepEqual(Object.keys(evals[0].eval!).sort(), ['accuracy', 'examples', 'loss', 'macroF1', 'mcc']);
  assert.deepEqual(result.finalEval, evals[1].eval);
  // 2 blocks × (c_attn, attn.c_proj, c_fc, mlp.c_proj) adapted with all-linear.
  const diag = evals[1].diagnostic!;
  assert.equal(diag.length, 8);
  for (const d of diag) {
    // LoRA-Pro's direction is the orthogonal projection of g onto {B·M + N·A}, which holds LoRA's:
    // no direction in that space is closer to g.
    assert.ok(d.loraPro.cosine >= d.lora.cosine - 1e-4, `${d.module}: LoRA-Pro ${d.loraPro.cosine} < LoRA ${d.lora.cosine}`);
    assert.ok(d.loraPro.cosine > 0 && d.loraPro.cosine <= 1 + 1e-6, `${d.module}: ${d.loraPro.cosine}`);
  }
  const run = JSON.parse(readFileSync(join(cfg.out, 'run.json'), 'utf8'));
  assert.deepEqual(run.labels, ['neg', 'pos']);
  for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'best/adapter_model.safetensors', 'best/run.json']) assert.ok(existsSync(join(cfg.out, f)), f);
  const html = readFileSync(join(cfg.out, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 4, 'loss, lr, eval and diagnostic charts');
  assert.ok(!/<script|src=|href=|@import|url\(/.test(html), 'self-contained: nothing loaded from elsewhere');
  assert.ok(html.includes('transformer.h.1.mlp.c_fc'), 'the per-layer table names each layer');
});

test('causal LM: loss and perplexity = exp(loss); full fine-tuning logs no diagnostic and saves a model folder', async () => {
  const cfg = config({ model: llama, train: lmTrain, eval: undefined, task: 'causal-lm', method: 'full', lr: 1e-3, maxSteps: 4, evalEvery: 2 });
  const result = await train(cfg);
  assert.equal(result.status, 'completed');
  const evals = (await metricsOf(cfg)).filter((l) => l.eval);
  assert.equal(evals.length, 2);
  for (const l of evals) {
    assert.ok(Math.abs(l.eval!.perplexity! - Math.exp(l.eval!.loss)) < 1e-9 * l.eval!.perplexity!);
    assert.equal(l.diagnostic, undefined);
  }
  assert.equal(evals[0].eval!.examples, 4, 'a 10% split of 40 examples');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) assert.ok(existsSync(join(cfg.out, f)), f);
});

test('an --out that holds a finished run needs another --out, and --resume refuses changed settings', async () => {
  const cfg = config({ maxSteps: 2 });
  await train(cfg);
  await assert.rejects(train(cfg), (e: Error) => e instanceof UsageError && /already holds a finished or stopped run \(report\.html\); to train again choose another --out, or remove/.test(e.message));
  await assert.rejects(train(trainConfig({ ...cfg, lr: 0.5, resume: true })), (e: Error) => e instanceof UsageError && /lr: 0.01 → 0.5/.test(e.message));
  const again = await train(trainConfig({ ...cfg, resume: true }));
  assert.equal(again.steps, 2, 'resuming a finished run only rewrites its outputs');
});

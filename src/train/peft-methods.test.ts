// DoRA, LoRA-FA and the PiSSA / OLoRA / LoRA-GA inits through the trainer's step (TrainSession runs
// the Node trainer's optimizerStep): a few steps lower the loss, and the adapter they save loads
// through loadAdapter onto the unmodified base and reproduces the trained model's outputs.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { FileSet } from '../io/file-set.js';
import { loadAdapter, saveAdapter } from '../adapters/peft-files.js';
import { loadPretrained } from '../models/pretrained.js';
import { createModel } from '../models/auto.js';
import { randomInit } from '../models/layers.js';
import { TINY } from '../models/testing.js';
import { batchLogits, hostBatch } from '../data/batches.js';
import { train } from '../run/train.js';
import { trainConfig } from './config.js';
import { UsageError } from './errors.js';
import { checkInit, checkVariant, setupMethod } from './methods.js';
import { readMetrics } from './metrics-log.js';
import { TrainSession } from './session.js';
import { classificationFixture, lmRecords, writeJsonl } from './testing.js';

await useBackend('cpu');

const folder = (dir: string) => new FileSet('tiny', readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))] as const));
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('adapter methods and inits through the trainer', () => {
  let fx: Awaited<ReturnType<typeof classificationFixture>>;
  before(async () => {
    fx = await classificationFixture();
  });

  for (const spec of ['dora', 'lora-fa', 'lora@pissa', 'lora@pissa_niter_2', 'lora@olora', 'lora-pro@pissa', 'lora@lora-ga', 'lora-pro@lora-ga']) {
    test(`${spec}: 10 steps lower the loss; the saved adapter on the original base reproduces the trained outputs`, async () => {
      const { method, init } = checkVariant(spec);
      const session = await TrainSession.create({
        model: folder(fx.model),
        data: { train: { name: 'cls.jsonl', text: readFileSync(fx.config().train, 'utf8') }, eval: { name: 'cls-dev.jsonl', text: readFileSync(fx.config().eval!, 'utf8') } },
        options: { method, init, gaBatches: 2, lr: 1e-2, maxSteps: 10, batchSize: 8, rank: 2, schedule: 'constant', diagnostics: false },
      });
      const fresh = await loadPretrained(fx.model, { task: 'sequence-classification', numLabels: 2 });
      try {
        const losses: number[] = [];
        const tensors: number[] = [];
        while (!session.done) {
          losses.push((await session.next()).loss);
          tensors.push(tf.memory().numTensors);
        }
        // optimiser slots (and LoRA-FA's projections) appear at step 1; from step 2 every step ends level
        assert.deepEqual(tensors.slice(2), tensors.slice(1, -1), `tensors per step: ${tensors.join(' ')}`);
        const head = (losses[0] + losses[1]) / 2;
        const tail = (losses[8] + losses[9]) / 2;
        assert.ok(tail < head, `the loss falls: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
        const dir = join(fx.root, `adapter-${spec.replace('@', '-')}`);
        await saveAdapter(session.model, dir);
        const json = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
        // inits that rewrite the base are saved as PEFT's conversion: plain LoRA of rank 2r
        assert.deepEqual([json.r, json.init_lora_weights, json.use_dora], init === 'default' ? [2, true, method === 'dora'] : [4, true, false]);
        await loadAdapter(fresh, dir);
        const b = hostBatch(session.data.eval.slice(0, 8), session.padId);
        const got = batchLogits(fresh, b);
        const want = batchLogits(session.model, b);
        assert.ok(maxAbsDiff(got, want) < 1e-4, `outputs differ by ${maxAbsDiff(got, want)}`);
        tf.dispose([got, want]);
      } finally {
        session.dispose();
        fresh.dispose();
      }
    });
  }

  test('lora-pro@pissa and lora@lora-ga resume exactly: the init (and its residual base) is redone, then the checkpoint restores A, B', async () => {
    for (const over of [{ method: 'lora-pro', init: 'pissa' }, { method: 'lora', init: 'lora-ga', gaBatches: 2 }]) {
      const settings = { ...over, lr: 1e-2, maxSteps: 8, saveEvery: 4, evalEvery: 4, diagnostics: false };
      const straight = fx.config(settings);
      assert.equal((await train(straight)).status, 'completed');
      const crashed = fx.config(settings);
      await assert.rejects(train(crashed, { onStep: (step) => { if (step === 5) throw new Error('simulated crash'); } }), /simulated crash/);
      assert.equal((await train(trainConfig({ ...crashed, resume: true }))).status, 'completed');
      const weights = (c: { out: string }) => readFileSync(join(c.out, 'adapter_model.safetensors'));
      assert.ok(weights(straight).equals(weights(crashed)), `${over.method}@${over.init}: the resumed adapter is byte-identical`);
    }
  });

  test('the Node trainer runs lora-fa and lora@lora-ga (gradient pass on the run\'s batches) to completion, the guard counting frozen A', async () => {
    const lm = writeJsonl(join(fx.root, 'lm.jsonl'), lmRecords(32, 3));
    // causal LM: no head, so without the frozen A the guard's start norm would be ‖B‖ = 0
    const lmRun = { task: 'causal-lm', train: lm, eval: undefined, method: 'lora-fa', batchSize: 4 };
    for (const over of [{ method: 'lora-fa' }, lmRun, { method: 'lora', init: 'lora-ga', gaBatches: 3 }] as Record<string, unknown>[]) {
      const config = fx.config({ ...over, lr: 1e-2, maxSteps: 8, diagnostics: false });
      const result = await train(config);
      assert.equal(result.status, 'completed', result.message);
      const lines = await readMetrics(join(config.out, 'metrics.jsonl'));
      assert.equal(lines.length, 8);
      const run = JSON.parse(readFileSync(join(config.out, 'run.json'), 'utf8'));
      assert.equal(run.config.init, (over.init as string | undefined) ?? 'default', 'run.json records the init');
    }
  });
});

test('bad inits and method/init pairs are usage errors naming the value', async () => {
  assert.throws(() => checkInit('pissa_niter_x'), (e: Error) => e instanceof UsageError && /pissa_niter_x/.test(e.message) && /whole number/.test(e.message));
  assert.throws(() => checkInit('loftq'), (e: Error) => e instanceof UsageError && /unknown init "loftq"/.test(e.message) && /lora-ga/.test(e.message));
  assert.throws(() => checkVariant('full@pissa'), /full has no adapters/);
  assert.throws(() => checkVariant('lora@nope'), /unknown init "nope"/);
  assert.deepEqual(checkVariant('lora-pro@pissa_niter_4'), { label: 'lora-pro@pissa_niter_4', method: 'lora-pro', init: 'pissa_niter_4' });
  assert.throws(() => trainConfig({ model: 'm', train: 't', task: 'classification', method: 'lora', init: 'pissa_niter_x', out: 'o' }), /pissa_niter_x/);
  assert.throws(() => trainConfig({ model: 'm', train: 't', task: 'classification', method: 'full', init: 'olora', out: 'o' }), /--method full has none/);
  const model = createModel(TINY.gpt2(), { task: 'sequence-classification', numLabels: 2, init: randomInit(3, 0.1) });
  try {
    const o = { rank: 2, alpha: 4, targetModules: ['c_attn'], loraDropout: 0, modulesToSave: ['score'], seed: 0, lr: 1e-3, weightDecay: 0 };
    assert.throws(() => setupMethod(model, { ...o, method: 'lora', init: 'lora_ga' }), (e: Error) => e instanceof UsageError && /--init lora-ga needs training data/.test(e.message));
    assert.throws(() => setupMethod(model, { ...o, method: 'dora', init: 'pissa' }), (e: Error) => e instanceof UsageError && /DoRA with initLoraWeights "pissa" is not supported/.test(e.message));
  } finally {
    model.dispose();
  }
});

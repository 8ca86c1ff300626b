// The browser's code path, run in Node: a TrainSession on FileSets and dataset texts trains to the
// trainer's losses, its adapter bytes are saveAdapter's files, and bad in-memory files are errors
// naming folder/file. Also the playground server's routes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adapterFiles, loadAdapterFromFiles } from '../adapters/peft-bytes.js';
import { saveAdapter } from '../adapters/peft-files.js';
import { FileSet } from '../io/file-set.js';
import { InputFileError } from '../io/input-error.js';
import { loadPretrainedFromFiles } from '../models/from-files.js';
import { loadPretrained } from '../models/pretrained.js';
import { startStudio, type Studio } from '../run/studio.js';
import { trainConfig } from './config.js';
import { classificationFixture, lmRecords } from './testing.js';
import { runDataFromText, TrainSession } from './session.js';
import { train } from '../run/train.js';

const folder = (dir: string) => new FileSet('tiny', readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))] as const));

describe('TrainSession (in memory)', () => {
  let fx: Awaited<ReturnType<typeof classificationFixture>>;
  before(async () => {
    fx = await classificationFixture();
  });

  test('trains to the Node trainer losses, and its adapter bytes are the files saveAdapter writes', async () => {
    const config = fx.config({ method: 'lora-pro', lr: 3e-3, maxSteps: 6, evalEvery: 3 });
    assert.equal((await train(config)).status, 'completed');
    const losses = readFileSync(join(config.out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
    const session = await TrainSession.create({
      model: folder(fx.model),
      data: { train: { name: 'cls.jsonl', text: readFileSync(config.train, 'utf8') }, eval: { name: 'cls-dev.jsonl', text: readFileSync(config.eval!, 'utf8') } },
      options: { method: 'lora-pro', lr: 3e-3, maxSteps: 6, batchSize: 8, evalEvery: 3 },
    });
    try {
      const got: number[] = [];
      const evalSteps: number[] = [];
      while (!session.done) {
        const s = await session.next();
        got.push(s.loss);
        if (session.evaluatesAt(s.step)) {
          const e = await session.evaluate();
          evalSteps.push(e.step);
          assert.ok(e.diagnostic && e.diagnostic.length > 0);
        }
      }
      assert.deepEqual(got, losses);
      assert.deepEqual(evalSteps, [3, 6]);
      const files = await session.adapterFiles();
      // the trainer's out folder holds the same adapter with base_model_name_or_path = the model folder
      const written = new Map([...files].map(([n]) => [n, readFileSync(join(config.out, n))]));
      assert.deepEqual(Buffer.from(files.get('adapter_model.safetensors')!), written.get('adapter_model.safetensors'));
      const json = JSON.parse(new TextDecoder().decode(files.get('adapter_config.json')));
      const theirs = JSON.parse(written.get('adapter_config.json')!.toString('utf8'));
      assert.deepEqual({ ...json, base_model_name_or_path: undefined }, { ...theirs, base_model_name_or_path: undefined });
      const probs = await session.classify('good fine great');
      assert.equal(probs.length, 2);
      assert.ok(Math.abs(probs[0].probability + probs[1].probability - 1) < 1e-5);
    } finally {
      session.dispose();
    }
  });

  test('loadPretrainedFromFiles gives loadPretrained weights; adapter bytes load back', async () => {
    const { model } = await loadPretrainedFromFiles(folder(fx.model), { task: 'causal-lm' });
    const disk = await loadPretrained(fx.model, { task: 'causal-lm' });
    try {
      for (const [name, v] of disk.namedParameters()) assert.deepEqual(await model.namedParameters().get(name)!.data(), await v.data(), name);
      const session = await TrainSession.create({ model: folder(fx.model), data: { train: { name: 'cls.jsonl', text: readFileSync(fx.config().train, 'utf8') } }, options: { method: 'lora', lr: 1e-2, maxSteps: 2 } });
      await session.next();
      await session.next();
      const bytes = await session.adapterFiles();
      const clf = await loadPretrained(fx.model, { task: 'sequence-classification', numLabels: 2 });
      loadAdapterFromFiles(clf, new FileSet('download', bytes));
      const out = join(fx.root, 'saved-adapter');
      await saveAdapter(session.model, out);
      assert.deepEqual(Buffer.from(bytes.get('adapter_model.safetensors')!), readFileSync(join(out, 'adapter_model.safetensors')));
      session.dispose();
      clf.dispose();
    } finally {
      model.dispose();
      disk.dispose();
    }
  });

  test('causal-lm: a dropped JSONL of texts and prompts trains to the trainer losses and completes a prompt', async () => {
    const text = lmRecords(24, 3).map((r) => JSON.stringify(r)).join('\n');
    const path = join(fx.root, 'lm.jsonl');
    writeFileSync(path, text);
    const config = trainConfig({ model: fx.model, train: path, task: 'causal-lm', method: 'lora-pro', lr: 3e-3, maxSteps: 4, batchSize: 4, out: join(fx.root, 'lm-run') });
    assert.equal((await train(config)).status, 'completed');
    const losses = readFileSync(join(config.out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
    const session = await TrainSession.create({ model: folder(fx.model), data: { train: { name: 'lm.jsonl', text } }, options: { task: 'causal-lm', method: 'lora-pro', lr: 3e-3, maxSteps: 4, batchSize: 4 } });
    try {
      const got: number[] = [];
      while (!session.done) got.push((await session.next()).loss);
      assert.deepEqual(got, losses);
      assert.equal(typeof (await session.complete('what is two', 5)), 'string');
      await assert.rejects(session.classify('x'), /classification session/);
    } finally {
      session.dispose();
    }
  });

  test('bad in-memory files are errors naming folder/file', async () => {
    const files = folder(fx.model);
    const broken = new FileSet('mine', [...files.names().map((n) => [n, files.bytes(n)!] as const), ['model.safetensors', new Uint8Array([1, 2, 3])]]);
    await assert.rejects(loadPretrainedFromFiles(broken), (e: unknown) => e instanceof InputFileError && /^mine\/model\.safetensors: /.test((e as Error).message));
    const noConfig = new FileSet('empty', { 'model.safetensors': files.bytes('model.safetensors')! });
    await assert.rejects(loadPretrainedFromFiles(noConfig), /empty is not a Hugging Face model folder: it has no config\.json/);
    const badJson = new FileSet('mine', { 'config.json': new TextEncoder().encode('{"model_type": ') });
    await assert.rejects(loadPretrainedFromFiles(badJson), /mine\/config\.json: not valid JSON/);
    const clf = await loadPretrained(fx.model, { task: 'sequence-classification', numLabels: 2 });
    try {
      assert.throws(() => loadAdapterFromFiles(clf, new FileSet('dl', { 'adapter_model.safetensors': new Uint8Array(8) })), /dl\/adapter_config\.json not found/);
    } finally {
      clf.dispose();
    }
    await assert.rejects(
      TrainSession.create({ model: files, data: { train: { name: 'data.csv', text: 'text,label\nhello,a\nworld\n' } }, options: { method: 'lora', lr: 1e-3, maxSteps: 1 } }),
      /data\.csv/,
    );
    await assert.rejects(TrainSession.create({ model: files, data: { train: { name: 'a.jsonl', text: '' } }, options: { method: 'lora', lr: 'auto' } }), /lr must be a number in a session/);
  });
});

describe('lorapro studio server', () => {
  let studio: Studio;
  before(async () => {
    studio = await startStudio({ model: 'models/lorapro-base', port: 0, host: '127.0.0.1' });
  });
  after(() => studio.close());

  test('serves the page, its config, model files, tasks and wasm, and nothing else', async () => {
    const get = (p: string) => fetch(new URL(p, studio.url));
    assert.match(await (await get('/')).text(), /lorapro studio/);
    const config = (await (await get('/api/studio')).json()) as { model: { name: string; files: string[] }; tasks: { name: string }[] };
    assert.equal(config.model.name, 'lorapro-base');
    assert.ok(config.model.files.includes('model.safetensors') && !config.model.files.includes('MODEL_CARD.md'));
    assert.ok(config.tasks.some((t) => t.name === 'spam'));
    const task = (await (await get('/api/tasks/name-gender')).json()) as { labels: string[]; train: unknown[]; validation: unknown[] };
    assert.deepEqual(task.labels, ['female', 'male']);
    assert.ok(task.train.length > 0 && task.validation.length > 0);
    assert.equal((await get('/api/tasks/nope')).status, 404);
    assert.equal((await get('/tfjs-wasm/tfjs-backend-wasm-simd.wasm')).headers.get('content-type'), 'application/wasm');
    assert.equal((await get('/models/lorapro-base/config.json')).status, 200);
    assert.equal((await get('/models/lorapro-base/MODEL_CARD.md')).status, 404);
    assert.equal((await get('/%2e%2e/package.json')).status, 404);
    assert.equal((await get('/worker.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
  });

  test('without a model folder the page is told it has none, and no model file is served', async () => {
    const bare = await startStudio({ port: 0, host: '127.0.0.1' });
    try {
      const config = (await (await fetch(new URL('/api/studio', bare.url))).json()) as { model: unknown };
      assert.equal(config.model, null);
      assert.equal((await fetch(new URL('/models/lorapro-base/config.json', bare.url))).status, 404);
    } finally {
      await bare.close();
    }
  });

  test('a port in use is a usage error naming it', async () => {
    const port = Number(new URL(studio.url).port);
    await assert.rejects(startStudio({ model: 'models/lorapro-base', port, host: '127.0.0.1' }), new RegExp(`port ${port} on 127.0.0.1 is in use`));
  });
});

test('a run\'s data says what it leaves out: labels under causal-LM training, labels 1 and "1" merged', () => {
  const lines: string[] = [];
  const tok = { encode: (t: string) => [...t].map((c) => c.charCodeAt(0) % 50), padTokenId: 0, eosTokenId: 1 };
  const lm = { name: 'lm.jsonl', text: '{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n{"text": "a film"}\n' };
  runDataFromText({ task: 'causal-lm', train: lm, seed: 0, validationFraction: 0.3, maxLength: 32 }, tok, (l) => lines.push(l));
  assert.ok(lines.some((l) => /^lm\.jsonl: 2 records have a "label" field \(lines 1, 2\), which causal-LM training ignores/.test(l)), lines.join('\n'));
  const cls = { name: 'cls.jsonl', text: '{"text": "a", "label": 1}\n{"text": "b", "label": 0}\n{"text": "c", "label": "1"}\n{"text": "d", "label": 0}\n' };
  runDataFromText({ task: 'classification', train: cls, seed: 0, validationFraction: 0.3, maxLength: 32 }, tok, (l) => lines.push(l));
  assert.ok(lines.some((l) => l.startsWith('cls.jsonl: label 1 is written as the number 1 (line 1) and as the string "1" (line 3)')), lines.join('\n'));
});

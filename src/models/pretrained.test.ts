import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { useBackend } from '../engine/backend.js';
import { InputFileError } from '../io/input-error.js';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { loadPretrained, loadPretrainedWithReport, savePretrained } from './pretrained.js';
import type { AnyModel, SequenceClassifier } from './types.js';
import { fixtureDir, int2d, readExpected } from './testing.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lorapro-models-'));
}

async function outputs(model: AnyModel, name: string): Promise<Float32Array> {
  const exp = readExpected(name);
  const ids = int2d(exp.input_ids);
  const mask = int2d(exp.attention_mask);
  const out = model.task === 'causal-lm' ? model.logits(ids, { attentionMask: mask }) : model.classify(ids, mask);
  const data = (await out.data()) as Float32Array;
  tf.dispose([ids, mask, out]);
  return data;
}

for (const name of ['gpt2-lm', 'gpt2-cls', 'llama-gqa-f16', 'qwen2-tied-bf16', 'bert-cls', 'roberta-cls']) {
  test(`savePretrained → loadPretrained reproduces ${name} exactly`, async () => {
    await useBackend('wasm');
    const dir = await tempDir();
    const model = await loadPretrained(fixtureDir(name));
    try {
      await savePretrained(model, dir);
      const again = await loadPretrained(dir, { onWarning: (m) => assert.fail(m) });
      try {
        assert.equal(again.architecture, model.architecture);
        assert.deepEqual(await outputs(again, name), await outputs(model, name));
      } finally {
        again.dispose();
      }
    } finally {
      model.dispose();
      await rm(dir, { recursive: true });
    }
  });
}

test('savePretrained writes Hugging Face names and layouts, omits a tied lm_head and copies tokenizer files', async () => {
  await useBackend('wasm');
  const dir = await tempDir();
  const src = await tempDir();
  await writeFile(join(src, 'tokenizer.json'), '{"model": {}}');
  const model = await loadPretrained(fixtureDir('gpt2-lm'), { task: 'causal-lm' });
  try {
    await savePretrained(model, dir, { dtype: 'BF16', copyFrom: src });
    const header = await readSafetensorsHeader(join(dir, 'model.safetensors'));
    const c_attn = header.tensors.get('transformer.h.0.attn.c_attn.weight');
    assert.deepEqual(c_attn?.shape, [32, 96], 'Conv1D weight written back as [in, out]');
    assert.equal(c_attn?.dtype, 'BF16');
    assert.equal(header.tensors.has('lm_head.weight'), false, 'tied head omitted');
    assert.equal(header.metadata.format, 'pt');
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['GPT2LMHeadModel']);
    assert.equal(config.n_embd, 32);
    assert.equal(await readFile(join(dir, 'tokenizer.json'), 'utf8'), '{"model": {}}');
  } finally {
    model.dispose();
    await rm(dir, { recursive: true });
    await rm(src, { recursive: true });
  }
});

/** gpt2-lm copied into `dir`, and its checkpoint tensors that `keep` keeps, to edit and write back. */
async function fixtureTensorsIn(dir: string, keep: (name: string) => boolean): Promise<Record<string, TensorToWrite>> {
  await cp(fixtureDir('gpt2-lm'), dir, { recursive: true });
  const file = await readSafetensors(join(dir, 'model.safetensors'));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of file.tensors) if (keep(name)) tensors[name] = { dtype: 'F32', shape: t.shape, data: new Float32Array(t.bytes.slice().buffer) };
  return tensors;
}

test('a missing, an unexpected and a mis-shaped tensor are reported together in one error', async () => {
  await useBackend('wasm');
  const dir = await tempDir();
  try {
    const tensors = await fixtureTensorsIn(dir, (name) => name !== 'h.0.ln_1.bias'); // missing
    tensors['h.0.attn.q_norm.weight'] = { shape: [32], data: new Float32Array(32) }; // unexpected
    tensors['h.1.mlp.c_fc.weight'] = { shape: [32, 10], data: new Float32Array(320) }; // mis-shaped (wants [32, 128])
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const before = tf.memory().numTensors;
    await assert.rejects(loadPretrained(dir), (e: Error) => {
      assert.ok(e instanceof InputFileError, 'a checkpoint that does not fit is bad input');
      assert.equal(e.message.split('\n')[0], `checkpoint in ${dir} does not fit the GPT2LMHeadModel its config.json describes:`);
      assert.match(e.message, /\n {2}missing 1:\n {4}transformer\.h\.0\.ln_1\.bias\n/);
      assert.match(e.message, /\n {2}unexpected 1:\n {4}h\.0\.attn\.q_norm\.weight\n/);
      assert.match(e.message, /\n {2}mis-shaped 1:\n {4}h\.1\.mlp\.c_fc\.weight: checkpoint \[32, 10\], model expects \[32, 128\]$/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, 'the half-loaded model is disposed');
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a checkpoint far off the config lists ten tensors per kind, one per line, and counts the rest', async () => {
  await useBackend('wasm');
  const dir = await tempDir();
  try {
    const tensors = await fixtureTensorsIn(dir, (name) => !name.startsWith('h.1.')); // the second block: 12 parameters and a mask buffer
    const extras = Array.from({ length: 13 }, (_, i) => `h.0.extra_${String(i).padStart(2, '0')}.weight`);
    for (const name of extras) tensors[name] = { shape: [2], data: new Float32Array(2) };
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await assert.rejects(loadPretrained(dir), (e: Error) => {
      const lines = e.message.split('\n');
      // header, then "missing 12:" + 10 + "… and 2 more", then "unexpected 13:" + 10 + "… and 3 more"; no empty mis-shaped block
      assert.equal(lines.length, 1 + 12 + 12, e.message);
      assert.equal(lines[1], '  missing 12:');
      assert.ok(lines.slice(2, 12).every((l) => /^ {4}transformer\.h\.1\.\S+$/.test(l)), e.message);
      assert.equal(lines[12], '    … and 2 more');
      assert.equal(lines[13], '  unexpected 13:');
      assert.deepEqual(lines.slice(14, 24), extras.slice(0, 10).map((n) => `    ${n}`));
      assert.equal(lines[24], '    … and 3 more');
      return true;
    });
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('a causal-LM checkpoint loads into a classifier with a seeded, reported new head', async () => {
  await useBackend('wasm');
  const load = (seed: number) =>
    loadPretrainedWithReport(fixtureDir('llama-gqa-f16'), { task: 'sequence-classification', numLabels: 4, seed, onWarning: () => {} });
  const a = await load(1);
  const b = await load(1);
  const c = await load(2);
  try {
    assert.equal(a.model.task, 'sequence-classification');
    assert.deepEqual(a.report.newlyInitialized, ['score.weight']);
    assert.deepEqual(a.report.unused, ['lm_head.weight']);
    const score = (m: AnyModel) => m.namedParameters().get('score.weight')!;
    assert.deepEqual(score(a.model).shape, [4, 32]);
    assert.deepEqual(await score(a.model).data(), await score(b.model).data(), 'same seed, same head');
    assert.notDeepEqual(await score(a.model).data(), await score(c.model).data(), 'other seed, other head');
    const warned: string[] = [];
    (await loadPretrained(fixtureDir('gpt2-lm'), { task: 'sequence-classification', onWarning: (m) => warned.push(m) })).dispose();
    assert.match(warned.join('\n'), /GPT2ForSequenceClassification .*newly initialised.*score\.weight/);
  } finally {
    for (const m of [a, b, c]) m.model.dispose();
  }
});

test('a classifier checkpoint loaded with another numLabels gets a fresh head, reported', async () => {
  await useBackend('wasm');
  const { model, report } = await loadPretrainedWithReport(fixtureDir('bert-cls'), { numLabels: 5, onWarning: () => {} });
  try {
    assert.equal((model as SequenceClassifier).numLabels, 5);
    assert.deepEqual(report.newlyInitialized, ['classifier.weight', 'classifier.bias']);
    assert.equal(report.unused.length, 2);
    assert.match(report.unused[0], /^classifier\.weight \(checkpoint \[3, 32\], model \[5, 32\]\)$/);
    assert.equal(model.config.numLabels, 5);
  } finally {
    model.dispose();
  }
});

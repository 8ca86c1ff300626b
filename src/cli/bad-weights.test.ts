// Weights that cannot be used as they are, refused where they are read (exit 2, naming the file and
// the tensor) by every command that reads them: NaN or Inf values in a model or an adapter, an
// integer tensor where a float parameter belongs, a truncated file under `info`. And a run whose
// very first loss is not finite, with finite weights, says that the learning rate is not the cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type RawTensor } from '../io/safetensors.js';
import { lmRecords, tempDir, writeJsonl } from '../train/testing.js';
import { runCli, writeTinyByteModel } from './testing.js';

const root = tempDir('lorapro-bad-weights-');
const model = await writeTinyByteModel(join(root, 'model'));
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(18, 3).filter((r) => !('messages' in r))); // the byte model has no chat template
const adapter = join(root, 'adapter');
const trained = await runCli('train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', adapter);
assert.equal(trained.code, 0, trained.err);
let copies = 0;

/** Writes tensors as a safetensors file byte for byte (any dtype, including ones lorapro never writes). */
function writeRaw(path: string, tensors: readonly [string, RawTensor][]): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([prefix, json, ...tensors.map(([, t]) => Buffer.from(t.bytes))]));
}

/** A copy of `dir` whose `file` has `name` replaced by what `change` makes of it. */
async function broken(dir: string, file: string, name: string, change: (t: RawTensor) => RawTensor): Promise<string> {
  const copy = join(root, `copy-${copies++}`);
  cpSync(dir, copy, { recursive: true });
  const tensors = [...(await readSafetensors(join(copy, file))).tensors];
  assert.ok(tensors.some(([n]) => n === name), `${file} has ${name}`);
  writeRaw(join(copy, file), tensors.map(([n, t]) => [n, n === name ? change(t) : t]));
  return copy;
}

/** `t` (F32) with `value` at flat index `at`. */
function withValue(t: RawTensor, at: number, value: number): RawTensor {
  const values = new Float32Array(t.bytes.slice().buffer);
  values[at] = value;
  return { ...t, bytes: new Uint8Array(values.buffer) };
}

const NORM = 'model.norm.weight';
const UP = 'model.layers.1.mlp.up_proj.weight';
const LORA_B = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';

/** Every command that reads the model, with its weights (and `extra` options). */
function commands(dir: string, extra: string[] = []): string[][] {
  return [
    ['train', '--model', dir, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', join(root, `never-${copies++}`), ...extra],
    ['eval', '--model', dir, '--data', lm, '--task', 'causal-lm', ...extra],
    ['generate', '--model', dir, '--prompt', 'hi', '--max-new-tokens', '2', ...extra],
    ['merge', '--model', dir, '--adapter', adapter, '--out', join(root, `merged-${copies++}`)],
    ['info', '--model', dir],
  ];
}

test('a NaN or an Inf in a model weight: every command refuses it at load, exit 2, naming the file and the tensor', async () => {
  const nan = await broken(model, 'model.safetensors', UP, (t) => withValue(t, 7, Number.NaN));
  const inf = await broken(model, 'model.safetensors', NORM, (t) => withValue(t, 3, Number.NEGATIVE_INFINITY));
  for (const [dir, name, value, at] of [[nan, UP, 'NaN', 7], [inf, NORM, '-Infinity', 3]] as const) {
    for (const argv of commands(dir)) {
      const r = await runCli(...argv);
      assert.equal(r.code, 2, `${argv[0]}: ${r.err}`);
      assert.match(r.err, new RegExp(`model\\.safetensors: tensor "${name.replace(/\./g, '\\.')}" \\[\\d+(, \\d+)?\\] holds ${value} at flat index ${at} \\(1 of \\d+ values are not finite\\)`), argv[0]);
      assert.doesNotMatch(r.err, /smaller learning rate/);
    }
  }
});

test('a NaN in an adapter weight is refused by eval, generate and merge, naming adapter_model.safetensors', async () => {
  const bad = await broken(adapter, 'adapter_model.safetensors', LORA_B, (t) => withValue(t, 0, Number.NaN));
  for (const argv of [
    ['eval', '--model', model, '--adapter', bad, '--data', lm, '--task', 'causal-lm'],
    ['generate', '--model', model, '--adapter', bad, '--prompt', 'hi', '--max-new-tokens', '2'],
    ['merge', '--model', model, '--adapter', bad, '--out', join(root, `merged-${copies++}`)],
  ]) {
    const r = await runCli(...argv);
    assert.equal(r.code, 2, `${argv[0]}: ${r.err}`);
    assert.match(r.err, /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight" \[\d+, \d+\] holds NaN at flat index 0/, argv[0]);
  }
});

test('an integer (I8) tensor where a float parameter belongs is refused, not converted', async () => {
  const i8 = await broken(model, 'model.safetensors', NORM, (t) => ({ dtype: 'I8', shape: t.shape, bytes: new Uint8Array(t.shape[0]).fill(1) }));
  const r = await runCli('eval', '--model', i8, '--data', lm, '--task', 'causal-lm');
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /model\.safetensors: tensor "model\.norm\.weight" is I8, but it is a float parameter of the model/);
});

test('info reads a truncated checkpoint as a load would: exit 2, "file is truncated"', async () => {
  const copy = join(root, `copy-${copies++}`);
  cpSync(model, copy, { recursive: true });
  const file = join(copy, 'model.safetensors');
  truncateSync(file, statSync(file).size - 100);
  const r = await runCli('info', '--model', copy);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /model\.safetensors.*file is truncated/);
});

test('a first loss that is not finite with finite weights is not blamed on the learning rate', async () => {
  // finite, but far beyond what float32 products survive: the first forward pass overflows
  const huge = await broken(model, 'model.safetensors', NORM, (t) => {
    const values = new Float32Array(t.bytes.slice().buffer).fill(3e38);
    return { ...t, bytes: new Uint8Array(values.buffer) };
  });
  const r = await runCli('train', '--model', huge, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '2', '--out', join(root, `never-${copies++}`));
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /step 1: the training loss is not finite \(.*\), at the first step, before any update, so the learning rate is not the cause/);
  assert.match(r.err, /largest \|weight\| 3\.0+e\+38 in model\.norm\.weight/);
  assert.doesNotMatch(r.err, /smaller learning rate/);
  assert.ok(readFileSync(join(huge, 'model.safetensors')).length > 0);
});

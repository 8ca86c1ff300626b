// --quantize end to end through the CLI on a tiny random float32 Llama. The acceptance: the
// eval loss with --quantize nf4 (and nf4-dq, int8) equals, within 1e-4 relative, the loss of the same model
// whose block linear weights an independent implementation of the definitions (written below, a
// plain per-value loop, not src/quant/) quantized and dequantized, saved as a float32 folder and
// evaluated without --quantize. Also: a LoRA run on the frozen tier trains to the same eval loss as
// on the heap, and --quantize is refused where it cannot apply, with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, toFloat32, type TensorToWrite } from '../io/safetensors.js';
import { nativeStatus } from '../engine/native.js';
import { lmRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

/** QLoRA's NF4 levels (bitsandbytes' table), copied here so the reference shares no code with src/quant. */
const LEVELS = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
];

/** NF4 by its definition: per 64 consecutive values, the level nearest x/absmax (ties to the lower), times absmax (or `scales` gives each block's stored absmax). */
function nf4RoundTrip(x: Float32Array, _cols?: number, scales: (absmax: number[]) => number[] = (a) => a): Float32Array {
  const out = new Float32Array(x.length);
  const absmax = Array.from({ length: Math.ceil(x.length / 64) }, (_, b) => Math.max(...Array.from(x.subarray(64 * b, 64 * b + 64), Math.abs)));
  const stored = scales(absmax);
  for (let i = 0; i < x.length; i++) {
    const b = Math.floor(i / 64);
    if (absmax[b] === 0) continue;
    const v = x[i] / absmax[b];
    let best = 0;
    for (let c = 1; c < 16; c++) if (Math.abs(v - LEVELS[c]) < Math.abs(v - LEVELS[best])) best = c;
    out[i] = Math.fround(LEVELS[best]) * stored[b];
  }
  return out;
}

/** bitsandbytes' create_dynamic_map(signed=True) by its formula in real arithmetic: 0, 1 and ±10^(i−6)·(0.1 + 0.9·(k + ½)/2^i), k < 2^i, i = 0 … 6. */
const DYNAMIC = [0, 1];
for (let i = 0; i < 7; i++) for (let k = 0; k < 2 ** i; k++) DYNAMIC.push(Math.fround(10 ** (i - 6) * (0.1 + (0.9 * (k + 0.5)) / 2 ** i)), -Math.fround(10 ** (i - 6) * (0.1 + (0.9 * (k + 0.5)) / 2 ** i)));

/** QLoRA's double quantization of NF4's absmax: offset = their mean; per 256, absmax2 = max |a − offset|; stored = nearest map value of (a − offset)/absmax2, times absmax2, plus offset. */
function doubleQuantized(absmax: number[]): number[] {
  const offset = absmax.reduce((s, a) => s + a, 0) / absmax.length;
  return absmax.map((a, b) => {
    const group = absmax.slice(256 * Math.floor(b / 256), 256 * Math.floor(b / 256) + 256);
    const absmax2 = Math.max(...group.map((g) => Math.abs(g - offset)));
    if (absmax2 === 0) return offset;
    const v = (a - offset) / absmax2;
    const nearest = DYNAMIC.reduce((best, c) => (Math.abs(v - c) < Math.abs(v - best) ? c : best));
    return nearest * absmax2 + offset;
  });
}

const nf4DqRoundTrip = (x: Float32Array) => nf4RoundTrip(x, 0, doubleQuantized);

/** int8 by its definition: per row, scale = absmax/127, q = x/scale rounded half to even, x ≈ q·scale. */
function int8RoundTrip(x: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const scale = Math.fround(Math.max(...Array.from(row, Math.abs)) / 127);
    for (let j = 0; j < cols; j++) {
      if (scale === 0) continue;
      const t = row[j] / scale;
      let q = Math.round(t);
      if (Math.abs(t % 1) === 0.5 && q % 2 !== 0) q -= 1; // a half goes to the even neighbour
      out[r * cols + j] = Math.max(-127, Math.min(127, q)) * scale;
    }
  }
  return out;
}

const BLOCK_LINEAR = /^model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.weight$/;
const TOKENIZER = ['tokenizer.json', 'tokenizer_config.json'];

async function writeRoundTripped(from: string, to: string, roundTrip: (x: Float32Array, cols: number) => Float32Array): Promise<void> {
  mkdirSync(to, { recursive: true });
  const file = await readSafetensors(join(from, 'model.safetensors'));
  const out = new Map<string, TensorToWrite>();
  for (const [name, t] of file.tensors) {
    const values = toFloat32(t, name);
    out.set(name, { dtype: 'F32', shape: t.shape, data: BLOCK_LINEAR.test(name) ? roundTrip(values, t.shape[1]) : values });
  }
  await writeSafetensors(join(to, 'model.safetensors'), out, { format: 'pt' });
  for (const f of ['config.json', ...TOKENIZER]) copyFileSync(join(from, f), join(to, f));
}

async function evalLoss(...args: string[]): Promise<number> {
  const r = await runCli('eval', ...args, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out.split('\n').at(-1)!).loss as number;
}

const root = tempDir('lorapro-quantize-');
const fixture = (async () => {
  const model = await writeTinyModel(join(root, 'llama'), 'llama', 3);
  const data = writeJsonl(join(root, 'dev.jsonl'), lmRecords(12, 4));
  const train = writeJsonl(join(root, 'train.jsonl'), lmRecords(24, 5));
  return { model, data, train };
})();

for (const [mode, roundTrip] of [['nf4', nf4RoundTrip], ['nf4-dq', nf4DqRoundTrip], ['int8', int8RoundTrip]] as const) {
  test(`eval with --quantize ${mode} equals the float32 model an independent ${mode} round trip wrote`, async () => {
    const { model, data } = await fixture;
    const reference = join(root, `ref-${mode}`);
    await writeRoundTripped(model, reference, roundTrip);
    const quantized = await evalLoss('--model', model, '--data', data, '--quantize', mode);
    const expected = await evalLoss('--model', reference, '--data', data, '--quantize', 'none', '--backend', 'wasm');
    const plain = await evalLoss('--model', model, '--data', data, '--backend', 'wasm');
    assert.ok(Math.abs(quantized - expected) <= 1e-4 * Math.abs(expected), `--quantize ${mode}: loss ${quantized}, the round-tripped model's ${expected}`);
    assert.notEqual(quantized, plain, 'quantization changed the numbers at all');
    if (mode === 'nf4-dq') {
      // nf4 and nf4-dq differ by less than 1e-4 here: nf4-dq must be nearer its own reference than nf4 is
      const nf4 = await evalLoss('--model', model, '--data', data, '--quantize', 'nf4');
      assert.ok(Math.abs(quantized - expected) < Math.abs(nf4 - expected) / 10, `nf4-dq ${quantized}, nf4 ${nf4}, reference ${expected}`);
    }
  });
}

test('LoRA on the frozen tier (native engine, f32 base outside the heap) trains to the eval loss of the heap path', { skip: nativeStatus().available ? false : 'native engine not built' }, async () => {
  const { model, data, train } = await fixture;
  const losses: number[] = [];
  for (const backend of ['native', 'wasm']) {
    const out = join(root, `lora-${backend}`);
    const r = await runCli('train', '--model', model, '--train', train, '--eval', data, '--task', 'causal-lm', '--method', 'lora', '--max-steps', '3', '--batch-size', '4', '--lr', '1e-2', '--no-diagnostics', '--backend', backend, '--out', out);
    assert.equal(r.code, 0, r.err);
    losses.push(await evalLoss('--model', model, '--adapter', out, '--data', data, '--backend', 'wasm'));
  }
  assert.ok(Math.abs(losses[0] - losses[1]) <= 1e-4 * losses[1], `frozen tier ${losses[0]}, heap ${losses[1]}`);
});

test('--quantize is refused with the reason where it cannot apply (exit 2)', async () => {
  const { model, data, train } = await fixture;
  const base = ['train', '--model', model, '--train', train, '--task', 'causal-lm', '--max-steps', '1', '--lr', '1e-2', '--out', join(root, 'refused')];
  const full = await runCli(...base, '--method', 'full', '--quantize', 'nf4');
  assert.equal(full.code, 2);
  assert.match(full.err, /--method full trains every weight/);
  const dora = await runCli(...base, '--method', 'dora', '--quantize', 'int8');
  assert.equal(dora.code, 2);
  assert.match(dora.err, /DoRA reads the base weight/);
  const pissa = await runCli(...base, '--method', 'lora', '--init', 'pissa', '--quantize', 'nf4');
  assert.equal(pissa.code, 2);
  assert.match(pissa.err, /rewrites the base weight/);
  const bad = await runCli('eval', '--model', model, '--data', data, '--quantize', 'int4');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--quantize must be one of none, int8, nf4, nf4-dq, got "int4"/);
  const gpt2 = await writeTinyModel(join(root, 'gpt2'), 'gpt2');
  const r = await runCli('eval', '--model', gpt2, '--data', data, '--quantize', 'nf4');
  assert.equal(r.code, 2);
  assert.match(r.err, /model_type "gpt2" is not supported \(supported: llama, qwen2, mistral\)/);
});

test('merge of an adapter trained on an nf4 base folds it into the dequantized base, says so, and keeps the base dtype', async () => {
  const { model, data, train } = await fixture;
  const out = join(root, 'qlora');
  const r = await runCli('train', '--model', model, '--train', train, '--task', 'causal-lm', '--method', 'lora', '--max-steps', '2', '--batch-size', '4', '--lr', '1e-2', '--no-diagnostics', '--quantize', 'nf4', '--out', out);
  assert.equal(r.code, 0, r.err);
  const merged = join(root, 'qlora-merged');
  const m = await runCli('merge', '--model', model, '--adapter', out, '--out', merged);
  assert.equal(m.code, 0, m.err);
  assert.match(m.err, /merging into the nf4-quantized base, dequantized .*; written as F32/);
  const header = (await readSafetensors(join(merged, 'model.safetensors'))).tensors;
  assert.ok([...header.values()].every((t) => t.dtype === 'F32'));
  const adapted = await evalLoss('--model', model, '--adapter', out, '--data', data);
  const folded = await evalLoss('--model', merged, '--data', data, '--backend', 'wasm');
  assert.ok(Math.abs(adapted - folded) <= 1e-4 * adapted, `adapter on the nf4 base ${adapted}, merged ${folded}`);
});

test('--resume refuses another --quantize than the run was started with, naming it', async () => {
  const { model, train } = await fixture;
  const out = join(root, 'resume');
  const args = ['train', '--model', model, '--train', train, '--task', 'causal-lm', '--method', 'lora', '--max-steps', '1', '--batch-size', '4', '--lr', '1e-2', '--no-diagnostics', '--out', out];
  assert.equal((await runCli(...args, '--quantize', 'int8')).code, 0);
  const r = await runCli(...args, '--quantize', 'nf4', '--resume');
  assert.equal(r.code, 2);
  assert.match(r.err, /quantize: "int8" → "nf4"/);
});

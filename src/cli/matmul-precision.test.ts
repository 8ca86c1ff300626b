// --matmul-precision (and LORAPRO_MATMUL) through the CLI on a tiny bf16 Llama: bf16 products on the
// frozen tier where the CPU has AVX512_BF16, recorded in run.json; f32 by default; a note and f32
// where bf16 cannot run; an unknown value refused (exit 2) on every command that takes it, naming the
// valid ones. The numbers themselves are src/engine/frozen-bf16.test.ts's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeStatus } from '../engine/native.js';
import { lmRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-matmul-');
const model = await writeTinyModel(join(root, 'model'), 'llama', 1, 'BF16');
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(16, 3));
const status = nativeStatus();
const bf16Runs = status.available && status.info.bf16Dot === true && status.info.isa === 'avx512';

const trainArgs = (out: string, ...more: string[]) => ['train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '2', '--out', join(root, out), ...more];
const matmulOf = (out: string) => (JSON.parse(readFileSync(join(root, out, 'run.json'), 'utf8')) as { matmul?: string }).matmul;

test('--matmul-precision bf16 trains with bf16 products where the CPU has AVX512_BF16 (else says so, in f32); run.json records it; f32 is the default', async () => {
  const bf16 = await runCli(...trainArgs('bf16', '--matmul-precision', 'bf16'));
  assert.equal(bf16.code, 0, bf16.err);
  assert.equal(matmulOf('bf16'), bf16Runs ? 'bf16' : 'f32');
  if (bf16Runs) assert.match(bf16.err, /engine: native \(avx512, \d+ threads?, bf16 products with bf16 weights\)/);
  else assert.match(bf16.err, /--matmul-precision bf16: .*; computing in f32/);
  const plain = await runCli(...trainArgs('default'));
  assert.equal(plain.code, 0, plain.err);
  assert.equal(matmulOf('default'), 'f32', 'bf16 asked for by an earlier command in this process does not stick');
  assert.doesNotMatch(plain.err, /bf16/);
});

test('an unknown --matmul-precision or LORAPRO_MATMUL is refused (exit 2) on train, eval, generate and compare, naming f32 and bf16', async () => {
  const commands = [
    trainArgs('never'),
    ['eval', '--model', model, '--data', lm, '--task', 'causal-lm'],
    ['generate', '--model', model, '--prompt', 'a'],
    ['compare', '--model', model, '--train', lm, '--eval', lm, '--task', 'causal-lm', '--methods', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', join(root, 'never-compare')],
  ];
  for (const argv of commands) {
    const r = await runCli(...argv, '--matmul-precision', 'fp16');
    assert.equal(r.code, 2, `${argv[0]}: ${r.err}`);
    assert.match(r.err, /--matmul-precision must be one of f32, bf16, got "fp16"; leave --matmul-precision out for f32/, argv[0]);
  }
  const saved = process.env.LORAPRO_MATMUL;
  process.env.LORAPRO_MATMUL = 'half';
  try {
    const r = await runCli(...trainArgs('never-env'));
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /LORAPRO_MATMUL must be one of f32, bf16, got "half"; unset LORAPRO_MATMUL for f32/);
  } finally {
    if (saved === undefined) delete process.env.LORAPRO_MATMUL;
    else process.env.LORAPRO_MATMUL = saved;
  }
});

test('--matmul-precision bf16 on the wasm engine says it computes in f32, and run.json says f32', async () => {
  const r = await runCli(...trainArgs('wasm', '--backend', 'wasm', '--matmul-precision', 'bf16'));
  assert.equal(r.code, 0, r.err);
  if (status.available) assert.match(r.err, /--matmul-precision bf16: the engine is wasm, not native; computing in f32/);
  assert.equal(matmulOf('wasm'), 'f32');
});

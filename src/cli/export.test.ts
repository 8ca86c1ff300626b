// `lorapro export gguf` without a llama.cpp client (that is export-gguf.slow.test.ts): the file's
// layout read back with @huggingface/gguf and compared with the checkpoint by an independent route,
// the adapter's scale and permutation, and every refusal with its exit code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gguf } from '@huggingface/gguf';
import { readSafetensors, toFloat32, writeSafetensors } from '../io/safetensors.js';
import { quantizeRowQ8_0 } from '../quant/ggml-q8_0.js';
import { runCli } from './testing.js';

const BASE = fileURLToPath(new URL('../../models/lorapro-base', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../src/models/fixtures/', import.meta.url));
const root = await mkdtemp(join(tmpdir(), 'lorapro-export-'));
after(() => rm(root, { recursive: true, force: true }));
const checkpoint = await readSafetensors(join(BASE, 'model.safetensors'));
const weight = (name: string) => toFloat32(checkpoint.tensors.get(name)!, name);

/** A GGUF file's metadata, tensor infos and each tensor's bytes. */
async function readGguf(path: string) {
  const parsed = await gguf(path, { allowLocalFile: true });
  const bytes = readFileSync(path);
  const start = Number(parsed.tensorDataOffset);
  const infos = new Map(parsed.tensorInfos.map((t) => [t.name, { dims: t.shape.map(Number), type: t.dtype as number, offset: start + Number(t.offset) }]));
  const data = (name: string, length: number) => new Uint8Array(bytes.buffer, bytes.byteOffset + infos.get(name)!.offset, length);
  return { meta: parsed.metadata as unknown as Record<string, unknown>, infos, data, f32: (name: string, n: number) => new Float32Array(data(name, 4 * n).slice().buffer) };
}

/** LlamaModel.permute written out: row h·d + 2i + j of the result is row h·d + j·d/2 + i. */
function permutedRow(row: number, headRows: number): number {
  const h = Math.floor(row / headRows);
  const k = row % headRows;
  return h * headRows + (k % 2) * (headRows / 2) + Math.floor(k / 2);
}

test('the shipped base as f32: llama.cpp names and dims, the tied head left out, values unchanged, q/k rows permuted per head', async () => {
  const out = join(root, 'base-f32.gguf');
  const r = await runCli('export', 'gguf', '--model', BASE, '--out', out, '--type', 'f32');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote .*base-f32\.gguf: llama model, tokenizer pre "gpt-2", 38 tensors, f32/);
  const g = await readGguf(out);
  assert.equal(g.meta['general.architecture'], 'llama');
  assert.equal(g.meta['general.file_type'], 0);
  assert.equal(g.meta['llama.context_length'], 512);
  assert.equal(g.meta['llama.block_count'], 4);
  assert.equal(g.meta['tokenizer.ggml.pre'], 'gpt-2');
  assert.equal(g.infos.size, 2 + 4 * 9); // token_embd, output_norm, 9 per block; no output.weight (tied)
  assert.ok(!g.infos.has('output.weight'));
  assert.deepEqual(g.infos.get('token_embd.weight')!.dims, [128, 257]); // innermost first
  assert.deepEqual(g.infos.get('blk.3.ffn_down.weight')!.dims, [344, 128]);
  assert.deepEqual([...g.f32('token_embd.weight', 257 * 128)], [...weight('model.embed_tokens.weight')]);
  for (const [hf, name] of [['model.layers.2.self_attn.q_proj.weight', 'blk.2.attn_q.weight'], ['model.layers.2.self_attn.k_proj.weight', 'blk.2.attn_k.weight']]) {
    const w = weight(hf);
    const got = g.f32(name, 128 * 128);
    for (let row = 0; row < 128; row++) {
      const from = permutedRow(row, 32); // 4 heads of 32 rows
      assert.deepEqual([...got.subarray(row * 128, row * 128 + 128)], [...w.subarray(from * 128, from * 128 + 128)], `${name} row ${row}`);
    }
  }
  assert.deepEqual([...g.f32('blk.2.attn_v.weight', 128 * 128)], [...weight('model.layers.2.self_attn.v_proj.weight')]); // v is not rotated
});

test('q8_0: ggml blocks of the laid-out rows; rows of 344 (not whole blocks) in f16, norms in f32', async () => {
  const out = join(root, 'base-q8_0.gguf');
  assert.equal((await runCli('export', 'gguf', '--model', BASE, '--out', out, '--type', 'q8_0')).code, 0);
  const g = await readGguf(out);
  assert.equal(g.meta['general.file_type'], 7);
  const types = Object.fromEntries(['blk.0.attn_v.weight', 'blk.0.ffn_down.weight', 'blk.0.ffn_up.weight', 'blk.0.attn_norm.weight', 'token_embd.weight'].map((n) => [n, g.infos.get(n)!.type]));
  assert.deepEqual(types, { 'blk.0.attn_v.weight': 8, 'blk.0.ffn_down.weight': 1, 'blk.0.ffn_up.weight': 8, 'blk.0.attn_norm.weight': 0, 'token_embd.weight': 8 });
  const v = weight('model.layers.0.self_attn.v_proj.weight');
  assert.deepEqual([...g.data('blk.0.attn_v.weight', 128 * 4 * 34)], [...quantizeRowQ8_0(v)]);
});

function writeAdapter(dir: string, config: Record<string, unknown>, tensors: Record<string, { shape: number[]; data: Float32Array }>): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', task_type: 'CAUSAL_LM', ...config }));
  return dir;
}

test('--adapter-only: lora_a [in, r] and lora_b [r, out] in GGUF dims, alpha kept, B scaled by PEFT s / (alpha / r) and permuted like q', async () => {
  const A = Float32Array.from({ length: 2 * 128 }, (_, i) => (i % 7) - 3); // [r = 2, in = 128]
  const B = Float32Array.from({ length: 128 * 2 }, (_, i) => i / 100); // [out = 128, r = 2]
  const dir = writeAdapter(join(root, 'adapter-rs'), { r: 2, lora_alpha: 4, use_rslora: true, target_modules: ['q_proj'] }, {});
  await writeSafetensors(join(dir, 'adapter_model.safetensors'), {
    'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight': { shape: [2, 128], data: A },
    'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight': { shape: [128, 2], data: B },
  });
  const out = join(root, 'lora.gguf');
  const r = await runCli('export', 'gguf', '--model', BASE, '--adapter', dir, '--adapter-only', '--out', out, '--type', 'f32');
  assert.equal(r.code, 0, r.err);
  const g = await readGguf(out);
  assert.deepEqual([g.meta['general.type'], g.meta['adapter.type'], g.meta['adapter.lora.alpha'], g.meta['general.architecture']], ['adapter', 'lora', 4, 'llama']);
  assert.deepEqual([...g.infos.keys()], ['blk.1.attn_q.weight.lora_a', 'blk.1.attn_q.weight.lora_b']);
  assert.deepEqual(g.infos.get('blk.1.attn_q.weight.lora_a')!.dims, [128, 2]);
  assert.deepEqual(g.infos.get('blk.1.attn_q.weight.lora_b')!.dims, [2, 128]);
  assert.deepEqual([...g.f32('blk.1.attn_q.weight.lora_a', 256)], [...A]);
  // rsLoRA: s = 4/√2; llama.cpp uses alpha / r = 2, so B carries √2.
  const b = g.f32('blk.1.attn_q.weight.lora_b', 256);
  for (let row = 0; row < 128; row++) {
    const from = permutedRow(row, 32);
    for (let k = 0; k < 2; k++) assert.ok(Math.abs(b[row * 2 + k] - Math.fround(B[from * 2 + k] * Math.SQRT2)) <= 1e-6, `lora_b[${row}, ${k}]`);
  }
});

test('refusals exit 2 and name the file or option: an existing --out, encoders, T5, DoRA, modules_to_save in an adapter, bad options', async () => {
  const out = join(root, 'exists.gguf');
  writeFileSync(out, 'keep me');
  let r = await runCli('export', 'gguf', '--model', BASE, '--out', out);
  assert.equal(r.code, 2);
  assert.match(r.err, /--out: .*exists\.gguf exists; pass --force to overwrite it/);
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
  r = await runCli('export', 'gguf', '--model', BASE, '--out', out, '--force', '--type', 'q4_0');
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(out).subarray(0, 4).toString(), 'GGUF');

  r = await runCli('export', 'gguf', '--model', join(FIXTURES, 'bert-cls'), '--out', join(root, 'bert.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /bert-cls\/config\.json: cannot export to GGUF: .*"bert"/);
  r = await runCli('export', 'gguf', '--model', join(FIXTURES, 't5-v1_1-gated'), '--out', join(root, 't5.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot export to GGUF: model_type "t5" is not supported/);

  const dora = writeAdapter(join(root, 'dora'), { r: 2, lora_alpha: 4, use_dora: true, target_modules: ['q_proj'] }, {});
  r = await runCli('export', 'gguf', '--model', BASE, '--adapter', dora, '--out', join(root, 'dora.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /DoRA adapters have no GGUF form; fold it first with "lorapro merge"/);

  const saved = writeAdapter(join(root, 'saved'), { r: 2, lora_alpha: 4, target_modules: ['q_proj'], modules_to_save: ['model.norm'] }, {});
  await writeSafetensors(join(saved, 'adapter_model.safetensors'), {
    'base_model.model.model.norm.weight': { shape: [128], data: new Float32Array(128).fill(2) },
  });
  r = await runCli('export', 'gguf', '--model', BASE, '--adapter', saved, '--adapter-only', '--out', join(root, 'saved.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /modules_to_save: model\.norm\.weight\), which a GGUF LoRA adapter cannot carry; export the merged model instead/);
  r = await runCli('export', 'gguf', '--model', BASE, '--adapter', saved, '--out', join(root, 'saved-merged.gguf'), '--type', 'f32');
  assert.equal(r.code, 0, r.err); // merged: the saved norm replaces the base's
  assert.deepEqual([...(await readGguf(join(root, 'saved-merged.gguf'))).f32('output_norm.weight', 3)], [2, 2, 2]);

  r = await runCli('export', 'gguf', '--model', BASE, '--adapter-only', '--out', join(root, 'x.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /--adapter-only needs --adapter DIR/);
  r = await runCli('export', 'gguf', '--model', BASE, '--out', join(root, 'x.gguf'), '--type', 'q5_k');
  assert.equal(r.code, 2);
  assert.match(r.err, /--type must be one of f32, f16, q4_0, q8_0, bf16, got "q5_k"/);
  r = await runCli('export', '--model', BASE, '--out', join(root, 'x.gguf'));
  assert.equal(r.code, 2);
  assert.match(r.err, /a sub-command is needed: lorapro export gguf/);
});

test('--help covers the export', async () => {
  const overview = await runCli('--help');
  assert.match(overview.out, /export\s+write a GGUF file/);
  const help = await runCli('export', '--help');
  assert.match(help.out, /Usage: lorapro export gguf --model DIR \[--adapter DIR\] --out FILE\.gguf/);
  assert.match(help.out, /--adapter-only/);
});

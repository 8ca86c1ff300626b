// Bad input files answer exit code 2 with a message naming the file and what is wrong with it:
// model folders (config.json, model.safetensors, tokenizer.json) for `eval` and `train`, and adapter
// folders (adapter_config.json, adapter_model.safetensors) for `eval --adapter`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeSafetensors } from '../io/safetensors.js';
import { lmRecords, tempDir, tinyConfig, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-bad-files-');
const model = await writeTinyModel(join(root, 'model'), 'gpt2');
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(6, 3));
let copies = 0;

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A fresh copy of the tiny model folder, for one case to break. */
function modelCopy(): string {
  const dir = join(root, `model-${copies++}`);
  cpSync(model, dir, { recursive: true });
  return dir;
}

/** A PEFT adapter folder for the tiny GPT-2 whose weights are those `tensors` (r = 2 on c_attn). */
function adapterFolder(config: unknown, tensors: Record<string, { shape: number[]; data: Float32Array }>): string {
  const dir = join(root, `adapter-${copies++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'adapter_config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  writeFileSync(join(dir, 'adapter_model.safetensors'), serializeSafetensors(tensors));
  return dir;
}

const ADAPTER = { peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['c_attn'], task_type: 'CAUSAL_LM' };
const A0 = 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight';
const zeros = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

/** Each case breaks one file of a fresh model folder; `message` is built from that folder. */
const MODEL_FILES: { name: string; breakIt: (dir: string) => void; message: (dir: string) => RegExp }[] = [
  {
    name: 'a truncated model.safetensors',
    breakIt: (dir) => truncateSync(join(dir, 'model.safetensors'), Math.floor(statSync(join(dir, 'model.safetensors')).size / 2)),
    message: (dir) => new RegExp(`${esc(join(dir, 'model.safetensors'))}: file is truncated`),
  },
  {
    name: 'a config.json that is not JSON',
    breakIt: (dir) => writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2",'),
    message: (dir) => new RegExp(`${esc(join(dir, 'config.json'))}: not valid JSON`),
  },
  {
    name: 'a config.json with a bad field',
    breakIt: (dir) => writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig('gpt2'), n_head: '2' })),
    message: (dir) => new RegExp(`${esc(join(dir, 'config.json'))}: "n_head" must be a positive integer, got "2"`),
  },
  {
    name: 'a config.json that does not fit the weights',
    breakIt: (dir) => writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig('gpt2'), n_layer: 3 })),
    message: (dir) => new RegExp(`checkpoint in ${esc(dir)} does not fit the GPT2LMHeadModel its config.json describes:\\n {2}missing 12:\\n {4}transformer\\.h\\.2\\.`),
  },
  {
    name: 'a config.json naming an activation lorapro lacks',
    breakIt: (dir) => writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig('gpt2'), activation_function: 'swish2' })),
    message: (dir) => new RegExp(`${esc(join(dir, 'config.json'))}: unsupported activation "swish2"`),
  },
  {
    name: 'a tokenizer.json that is not JSON',
    breakIt: (dir) => writeFileSync(join(dir, 'tokenizer.json'), '{"model": '),
    message: (dir) => new RegExp(`${esc(join(dir, 'tokenizer.json'))}: not valid JSON`),
  },
  {
    name: 'a tokenizer.json the tokenizer library refuses',
    breakIt: (dir) => {
      const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...json, pre_tokenizer: { type: 'NoSuchPreTokenizer' } }));
    },
    message: (dir) => new RegExp(`${esc(join(dir, 'tokenizer.json'))}: cannot build the tokenizer: .*NoSuchPreTokenizer`),
  },
];

const COMMANDS: Record<string, (dir: string) => string[]> = {
  eval: (dir) => ['eval', '--model', dir, '--data', lm],
  train: (dir) => ['train', '--model', dir, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--out', join(root, `out-${copies++}`)],
};

for (const bad of MODEL_FILES) {
  for (const [command, argv] of Object.entries(COMMANDS)) {
    test(`${command} with ${bad.name}: exit code 2, naming the file`, async () => {
      const dir = modelCopy();
      bad.breakIt(dir);
      const r = await runCli(...argv(dir));
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, bad.message(dir));
      assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
    });
  }
}

const ADAPTER_FILES: { name: string; adapter: () => string; message: (dir: string) => RegExp }[] = [
  {
    name: 'an adapter_config.json that is not JSON',
    adapter: () => adapterFolder('{"r": 2,', { [A0]: zeros(2, 16) }),
    message: (dir) => new RegExp(`${esc(join(dir, 'adapter_config.json'))}: not valid JSON`),
  },
  {
    name: 'an adapter_config.json without "r"',
    adapter: () => adapterFolder({ ...ADAPTER, r: undefined }, { [A0]: zeros(2, 16) }),
    message: (dir) => new RegExp(`${esc(join(dir, 'adapter_config.json'))}: missing required key\\(s\\) "r"`),
  },
  {
    name: 'an adapter_config.json for another architecture',
    adapter: () => adapterFolder({ ...ADAPTER, target_modules: ['q_proj'] }, { [A0]: zeros(2, 16) }),
    message: (dir) => new RegExp(`${esc(join(dir, 'adapter_config.json'))}: target modules \\["q_proj"\\] match no linear layer`),
  },
  {
    name: 'adapter tensors that are missing or mis-shaped',
    adapter: () => adapterFolder(ADAPTER, { [A0]: zeros(3, 16) }),
    message: (dir) => new RegExp(`${esc(join(dir, 'adapter_model.safetensors'))} does not match the model:\\n {2}missing \\d+:\\n(.|\\n)*\\n {2}mis-shaped 1:\\n {4}transformer\\.h\\.0\\.attn\\.c_attn\\.lora_A\\.weight \\[3,16\\] \\(model \\[2,16\\]\\)`),
  },
];

for (const bad of ADAPTER_FILES) {
  test(`eval --adapter with ${bad.name}: exit code 2, naming the file`, async () => {
    const adapter = bad.adapter();
    const r = await runCli('eval', '--model', model, '--adapter', adapter, '--data', lm);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, bad.message(adapter));
    assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
  });
}

// Options that mean what --help says: --target-modules as PEFT's target_modules (a regex or names),
// and --lr against the search's own options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lmRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-options-');
const model = await writeTinyModel(join(root, 'model'), 'llama');
const lm = writeJsonl(join(root, 'lm.jsonl'), lmRecords(16, 3));

test("--target-modules '.*q_proj' is a regex matched against the whole module path, as --help and PEFT say", async () => {
  const regex = await runCli('info', '--model', model, '--target-modules', '.*q_proj');
  assert.equal(regex.code, 0, regex.err);
  const layers = Number(/: (\d+) adapted layers/.exec(regex.out)?.[1]);
  const names = await runCli('info', '--model', model, '--target-modules', 'q_proj');
  assert.equal(names.code, 0, names.err);
  assert.ok(layers > 0 && names.out.includes(`: ${layers} adapted layers`), 'the regex adapts what the name q_proj adapts');

  const out = join(root, 'regex-run');
  const r = await runCli('train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', '--max-steps', '1', '--target-modules', '.*\\.(q|v)_proj', '--out', out);
  assert.equal(r.code, 0, r.err);
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as { target_modules: unknown };
  assert.equal(config.target_modules, '.*\\.(q|v)_proj', 'adapter_config.json keeps the regex as a string, which PEFT fullmatches');

  const bad = await runCli('info', '--model', model, '--target-modules', '(q_proj');
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /--target-modules "\(q_proj" is not a valid regular expression/);
});

test('--lr with --lr-grid or --lr-search-steps is refused (exit 2): the grid would be ignored', async () => {
  for (const [flag, value] of [['--lr-grid', '0.001,0.01'], ['--lr-search-steps', '3']]) {
    const r = await runCli('train', '--model', model, '--train', lm, '--task', 'causal-lm', '--method', 'lora', '--lr', '0.01', flag, value, '--out', join(root, 'never'));
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`${flag} sets the learning-rate search, which --lr 0.01 skips; give --lr or ${flag}, not both`));
  }
});

// Every method end to end through the real executable, for both tasks, as a new user would run
// them; then `compare`. Slow: run with `npm run test:slow`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasDiagnostic, METHODS } from '../train/methods.js';
import { lmRecords, sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const root = tempDir('lorapro-cli-slow-');
const gpt2 = await writeTinyModel(join(root, 'gpt2'), 'gpt2');
const llama = await writeTinyModel(join(root, 'llama'), 'llama');
const clsTrain = writeJsonl(join(root, 'cls.jsonl'), sentimentRecords(32, 1));
const clsDev = writeJsonl(join(root, 'cls-dev.jsonl'), sentimentRecords(8, 2));
const lmTrain = writeJsonl(join(root, 'lm.jsonl'), lmRecords(30, 3));
const lmDev = writeJsonl(join(root, 'lm-dev.jsonl'), lmRecords(6, 4));

function cli(...argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...argv], { cwd: root, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const lastJson = (text: string) => JSON.parse(text.trim().split('\n').pop()!);

const TASKS = [
  { task: 'classification', model: gpt2, train: clsTrain, dev: clsDev, metrics: ['loss', 'accuracy', 'macroF1', 'mcc'] },
  { task: 'causal-lm', model: llama, train: lmTrain, dev: lmDev, metrics: ['loss', 'perplexity'] },
] as const;

for (const t of TASKS) {
  for (const method of METHODS) {
    test(`${t.task} with ${method}: train, eval --json, merge, eval the merged model${t.task === 'causal-lm' ? ', generate' : ''}`, () => {
      const out = join(root, `${t.task}-${method}`);
      const train = cli('train', '--model', t.model, '--train', t.train, '--eval', t.dev, '--task', t.task, '--method', method, '--max-steps', '6', '--batch-size', '4', '--rank', '4', '--eval-every', '3', '--out', out);
      assert.equal(train.code, 0, train.err);
      for (const f of ['run.json', 'metrics.jsonl', 'report.html', method === 'full' ? 'model.safetensors' : 'adapter_model.safetensors']) assert.ok(existsSync(join(out, f)), f);
      const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 6);
      assert.equal(lines.filter((l) => l.diagnostic).length, hasDiagnostic(method) ? 2 : 0, 'the diagnostic at each evaluation, for adapter methods where it applies (not full, dora, lora-fa)');

      const adapterArgs = method === 'full' ? ['--model', out] : ['--model', t.model, '--adapter', out];
      const evaluated = cli('eval', ...adapterArgs, '--data', t.dev, '--json');
      assert.equal(evaluated.code, 0, evaluated.err);
      const metrics = lastJson(evaluated.out);
      for (const k of t.metrics) assert.ok(Number.isFinite(metrics[k]), `${k}: ${metrics[k]}`);
      assert.ok(Math.abs(metrics.loss - lines[5].eval.loss) < 1e-5, `eval matches the run's last evaluation: ${metrics.loss} vs ${lines[5].eval.loss}`);

      if (method !== 'full') {
        const merged = join(root, `${t.task}-${method}-merged`);
        const m = cli('merge', '--model', t.model, '--adapter', out, '--out', merged);
        assert.equal(m.code, 0, m.err);
        const again = lastJson(cli('eval', '--model', merged, '--data', t.dev, '--json').out);
        assert.ok(Math.abs(again.loss - metrics.loss) < 1e-4, `merged ${again.loss} vs adapter ${metrics.loss}`);
      }
      if (t.task === 'causal-lm') {
        const g = cli('generate', ...adapterArgs, '--prompt', 'what is two ?', '--max-new-tokens', '4');
        assert.equal(g.code, 0, g.err);
      }
      const info = cli('info', '--model', t.model, '--method', method, '--rank', '4');
      assert.equal(info.code, 0, info.err);
      assert.match(info.out, new RegExp(`^${method}\\s`, 'm'));
    });
  }
}

test('compare: three methods × two seeds, one overlaid report and a results table', () => {
  const out = join(root, 'compare');
  const r = cli('compare', '--model', gpt2, '--train', clsTrain, '--eval', clsDev, '--task', 'classification', '--methods', 'full,lora,lora-pro', '--seeds', '0,1', '--max-steps', '4', '--batch-size', '4', '--rank', '4', '--out', out);
  assert.equal(r.code, 0, r.err);
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  const rows = md.split('\n').filter((l) => /^\| (full|lora|lora-pro) \|/.test(l));
  assert.equal(rows.length, 3, md);
  for (const row of rows) {
    assert.match(row, /\d\.\d{4} ± \d\.\d{4}/, 'mean ± std of each metric');
    assert.match(row, /\d+\.\d ± \d+\.\d s/, 'time per run');
    assert.match(row, /\d+(\.\d)? (B|KiB|MiB|GiB)/, 'peak memory');
  }
  assert.match(md, /\| method \| loss \| accuracy \| macroF1 \| mcc \| seeds \| time \/ run \| peak tensor memory \| peak RSS \|/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  for (const m of ['full', 'lora', 'lora-pro']) assert.ok(html.includes(`>${m}<`), `${m} in the report's legend`);
  assert.ok(!/<script|src=|href=/.test(html));
  for (const m of ['full', 'lora', 'lora-pro']) for (const s of [0, 1]) assert.ok(existsSync(join(out, m, `seed-${s}`, 'report.html')));
});

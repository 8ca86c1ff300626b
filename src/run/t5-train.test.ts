// A tiny T5 trained as a text-to-text classifier through the real `lorapro train` path: the label
// words are the targets, LoRA on PEFT's T5 targets (`--target-modules peft`: q, v) lowers the loss, and the adapter saved as
// SEQ_2_SEQ_LM loads back for `lorapro eval` with the same accuracy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useBackend } from '../engine/backend.js';
import { readMetrics } from '../train/metrics-log.js';
import { loadTrained } from '../train/run-model.js';
import { sentimentRecords, tempDir, writeJsonl, writeTinyModel } from '../train/testing.js';
import { isTextToText } from '../models/types.js';
import { train } from './train.js';
import { trainConfig } from '../train/config.js';
import { evaluate } from '../train/evaluate.js';
import { loadEvalData } from '../train/run-data.js';

await useBackend();
const root = tempDir('lorapro-t5-');
const model = await writeTinyModel(join(root, 't5'), 't5', 2);
// label names are words of the tiny vocabulary, so each target is one token and </s>
const records = (n: number, seed: number) => sentimentRecords(n, seed).map((r) => ({ text: r.text, label: r.label === 'pos' ? 'great' : 'awful' }));
const trainFile = writeJsonl(join(root, 'train.jsonl'), records(40, 1));
const evalFile = writeJsonl(join(root, 'dev.jsonl'), records(12, 2));

test('lora on a tiny T5 lowers the text-to-text loss; the SEQ_2_SEQ_LM adapter loads back with the same metrics', async () => {
  const out = join(root, 'run');
  const config = trainConfig({ model, train: trainFile, eval: evalFile, task: 'classification', method: 'lora', targetModules: 'peft', lr: 3e-2, maxSteps: 12, batchSize: 8, out });
  const result = await train(config, { log: () => {} });
  assert.equal(result.status, 'completed');
  const lines = await readMetrics(join(out, 'metrics.jsonl'));
  const first = (lines[0].loss + lines[1].loss) / 2;
  const last = (lines[10].loss + lines[11].loss) / 2;
  assert.ok(last < first, `the loss falls: ${first} → ${last}`);
  const adapterConfig = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.task_type, 'SEQ_2_SEQ_LM');
  assert.deepEqual(adapterConfig.target_modules, ['q', 'v']);
  const trained = await loadTrained({ model, adapter: out, log: () => {} });
  try {
    assert.ok(isTextToText(trained.model));
    assert.deepEqual(trained.labels, ['awful', 'great']);
    const items = loadEvalData(evalFile, { task: 'classification', maxLength: 64, labels: trained.labels, labelOrigin: trained.labelOrigin }, trained.tokenizer);
    const m = await evaluate(trained.model, items, 8, trained.tokenizer.padTokenId!);
    const finalEval = lines.filter((l) => l.eval !== undefined).at(-1)!.eval!; // the run's evaluation of its last step
    assert.equal(m.accuracy, finalEval.accuracy);
    assert.ok(Math.abs(m.loss - finalEval.loss) <= 1e-5 * Math.max(1, finalEval.loss), `eval loss ${m.loss} vs the run's ${finalEval.loss}`);
  } finally {
    trained.model.dispose();
  }
});

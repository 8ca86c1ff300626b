// A tiny T5 through the command line as a text-to-text classifier: `lorapro train` on a CSV whose
// label words are the targets (LoRA on PEFT's T5 targets, `--target-modules peft`: q, v) lowers the
// loss; the SEQ_2_SEQ_LM adapter loads back for `lorapro eval` with the run's own metrics, and
// `lorapro generate` answers a prompt with the same words the library generates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter } from '../adapters/peft-files.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { generateSeq2Seq } from '../models/generate-seq2seq.js';
import { loadSeq2SeqLM } from '../models/pretrained.js';
import { readMetrics } from '../train/metrics-log.js';
import { sentimentRecords, tempDir, writeTinyModel } from '../train/testing.js';
import { runCli } from './testing.js';

const root = tempDir('lorapro-t5-');
const model = await writeTinyModel(join(root, 't5'), 't5', 2);
// label names are words of the tiny vocabulary, so each target is one token and </s>
const csv = (n: number, seed: number) => ['text,label', ...sentimentRecords(n, seed).map((r) => `${r.text},${r.label === 'pos' ? 'great' : 'awful'}`)].join('\n') + '\n';
const trainFile = join(root, 'train.csv');
const evalFile = join(root, 'dev.csv');
writeFileSync(trainFile, csv(40, 1));
writeFileSync(evalFile, csv(12, 2));

test('lorapro train/eval/generate on a tiny T5: the text-to-text loss falls and the SEQ_2_SEQ_LM adapter loads back', async () => {
  const out = join(root, 'run');
  const trained = await runCli('train', '--model', model, '--train', trainFile, '--eval', evalFile, '--task', 'classification', '--method', 'lora', '--target-modules', 'peft', '--lr', '0.03', '--max-steps', '12', '--out', out);
  assert.equal(trained.code, 0, trained.err);
  const lines = await readMetrics(join(out, 'metrics.jsonl'));
  const first = (lines[0].loss + lines[1].loss) / 2;
  const last = (lines[10].loss + lines[11].loss) / 2;
  assert.ok(last < first, `the loss falls: ${first} → ${last}`);
  const adapterConfig = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(adapterConfig.task_type, 'SEQ_2_SEQ_LM');
  assert.deepEqual(adapterConfig.target_modules, ['q', 'v']);

  const evaluated = await runCli('eval', '--model', model, '--adapter', out, '--data', evalFile, '--json');
  assert.equal(evaluated.code, 0, evaluated.err);
  const metrics = JSON.parse(evaluated.out.split('\n').at(-1)!);
  const finalEval = lines.filter((l) => l.eval !== undefined).at(-1)!.eval!; // the run's evaluation after its last step
  assert.equal(metrics.accuracy, finalEval.accuracy);
  assert.ok(Math.abs(metrics.loss - finalEval.loss) <= 1e-5 * Math.max(1, finalEval.loss), `eval loss ${metrics.loss} vs the run's ${finalEval.loss}`);

  const prompt = 'the movie was really great';
  const generated = await runCli('generate', '--model', model, '--adapter', out, '--prompt', prompt, '--max-new-tokens', '4');
  assert.equal(generated.code, 0, generated.err);
  const tok = await loadTokenizer(model);
  const t5 = await loadSeq2SeqLM(model);
  try {
    await loadAdapter(t5, out);
    const { ids } = await generateSeq2Seq(t5, tok.encode(prompt, { addSpecialTokens: true }), { maxNewTokens: 4, eosTokenId: tok.eosTokenId });
    assert.equal(generated.out, tok.decode(ids, { skipSpecialTokens: true }));
  } finally {
    t5.dispose();
  }
});

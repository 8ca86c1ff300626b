// The learning-rate search: which trial wins, where the rate comes from, and a real search on a
// tiny model that records its trials, resumes without redoing them, and feeds the run its choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useBackend } from '../engine/backend.js';
import { chooseLearningRate, pickSearchTrial, pickTrial, scoreStandardError, type TrialRunner } from './lr-search.js';
import { readRunFile } from '../train/run-file.js';
import { classificationFixture } from '../train/testing.js';
import { train } from './train.js';

await useBackend();
const { model: gpt2, config: base } = await classificationFixture();

test('pickTrial: the best score wins, ties go to the lower loss then the earlier point, diverged trials never', () => {
  const t = (lr: number, score: number, loss = 1) => ({ lr, score, loss });
  assert.equal(pickTrial([t(1, 0.5), t(2, 0.7), t(3, 0.6)])?.lr, 2);
  assert.equal(pickTrial([t(1, 0.7, 0.5), t(2, 0.7, 0.4), t(3, 0.7, 0.4)])?.lr, 2);
  assert.equal(pickTrial([t(1, Number.NaN), t(2, 0.1)])?.lr, 2);
  assert.equal(pickTrial([t(1, 2.0), t(2, 1.5)], true)?.lr, 2, 'lower is better (loss, perplexity)');
  assert.equal(pickTrial([t(1, Number.NaN)]), undefined);
});

test('the search keeps the lowest rate within one standard error of the best score; loss has no such margin', () => {
  const t = (lr: number, score: number, loss = 1) => ({ lr, status: 'completed', score, loss });
  // syllables, LoRA+ at compare's defaults (docs/defaults.md): √(0.573·0.427/300) = 0.0286
  const syllables = [t(0.0003, 0.5633), t(0.001, 0.5733), t(0.003, 0.5067)];
  assert.ok(Math.abs(scoreStandardError('accuracy', 0.5733, 300) - 0.02856) < 1e-4);
  const picked = pickSearchTrial(syllables, 'accuracy', 300)!;
  assert.equal(picked.best.lr, 0.001);
  assert.equal(picked.chosen.lr, 0.0003, '0.5633 is 0.010 below the best, within 0.029');
  assert.equal(pickSearchTrial(syllables, 'accuracy', 30000)!.chosen.lr, 0.001, 'with 30,000 examples the margin is 0.0029: the best stands');
  assert.equal(pickSearchTrial([t(0.001, 0.9), t(0.003, 0.5)], 'accuracy', 300)!.chosen.lr, 0.001, 'a clearly worse high rate is never chosen');
  assert.equal(pickSearchTrial([t(0.001, 0.5), t(0.003, 0.9)], 'accuracy', 300)!.chosen.lr, 0.003, 'nor a clearly worse low one');
  assert.equal(pickSearchTrial([t(0.001, 2.01), t(0.003, 2.0)], 'loss', 300)!.chosen.lr, 0.003, 'lower-is-better metrics keep the plain best');
  assert.equal(pickSearchTrial([t(0.001, Number.NaN), t(0.003, 0.4)], 'accuracy', 300)!.chosen.lr, 0.003, 'a diverged trial is never near the best');
  assert.equal(pickSearchTrial([t(0.001, Number.NaN)], 'accuracy', 300), undefined);
});

test('a given rate is used as is; --lr recommended takes the folder\'s rate or the width rule\'s; no --lr searches around it', async () => {
  const never: TrialRunner = () => assert.fail('no trial should run');
  assert.deepEqual(await chooseLearningRate(base({ lr: 0.02 }), { runTrial: never, log: () => {} }), { requested: 0.02, lr: 0.02, source: 'given', note: 'learning rate 0.02 (--lr)' });
  const rule = await chooseLearningRate(base({ lr: 'recommended' }), { runTrial: never, log: () => {} });
  assert.ok(rule !== 'interrupted' && rule.source === 'rule' && Math.abs(rule.lr - 0.024) < 1e-9, 'lora at width 16: 3e-3 × 128/16');
  writeFileSync(join(gpt2, 'lorapro.json'), JSON.stringify({ recommended: { learningRate: { lora: 0.004 } } }));
  try {
    const choice = await chooseLearningRate(base({ lr: 'recommended' }), { runTrial: never, log: () => {} });
    assert.ok(choice !== 'interrupted' && choice.source === 'model' && choice.lr === 0.004);
    const tried: number[] = [];
    const searched = await chooseLearningRate(base({ lrSearchSteps: 2 }), { runTrial: async (c) => { tried.push(c.lr); return { status: 'completed', best: { value: 0.5 }, finalEval: { loss: 1 } }; }, log: () => {} });
    assert.ok(searched !== 'interrupted' && searched.source === 'search');
    // centred on the recommendation (0.004 snaps to 0.003); all tie, so the first point (the low edge) wins and the grid grows down once, after which the winner is inside
    assert.deepEqual(tried, [0.001, 0.003, 0.01, 0.0003]);
    assert.equal((searched as { lr: number }).lr, 0.0003, 'all tie: the lowest rate within one standard error');
  } finally {
    writeFileSync(join(gpt2, 'lorapro.json'), '{"recommended": {"learningRate": {}}}'); // recommends nothing: the search tests below centre on the width rule
  }
});

test('--lr auto: one short trial per grid point, the best validation accuracy chosen, trials kept in run.json and the report', async () => {
  const cfg = base({ lr: 'auto', lrGrid: [1e-4, 3e-2, 1e6], lrSearchSteps: 4 });
  const logs: string[] = [];
  const result = await train(cfg, { log: (l) => logs.push(l) });
  assert.equal(result.status, 'completed');
  const choice = result.learningRate!;
  assert.equal(choice.source, 'search');
  assert.deepEqual(choice.trials!.map((t) => t.lr), [1e-4, 3e-2, 1e6]);
  assert.equal(choice.trials![2].status, 'diverged', 'the guard stops the absurd rate');
  const finite = choice.trials!.filter((t) => Number.isFinite(t.score));
  // 12 evaluation examples: the lowest rate whose accuracy is within √(p(1−p)/12) of the best p
  const top = Math.max(...finite.map((t) => t.score));
  const margin = Math.sqrt((top * (1 - top)) / 12);
  assert.equal(choice.lr, Math.min(...finite.filter((t) => t.score >= top - margin - 1e-12).map((t) => t.lr)));
  assert.ok(Math.abs(choice.standardError! - margin) < 1e-12, 'run.json records the margin');
  assert.ok(logs.some((l) => /learning-rate search \(--lr auto, the default; --lr-grid\): 3 trials of 4 steps at 0\.0001, 0\.03, 1000000,/.test(l)), logs.join('\n'));
  assert.ok(logs.some((l) => /^chose learning rate /.test(l)));
  const run = await readRunFile(cfg.out);
  assert.equal(run!.config.lr, 'auto', 'run.json keeps what was asked for');
  assert.equal(run!.learningRate!.lr, choice.lr);
  const lines = (await import('../train/metrics-log.js')).readMetrics(join(cfg.out, 'metrics.jsonl'));
  assert.ok((await lines).every((l) => Math.abs(l.lr) <= choice.lr), 'the run trains at the chosen rate');
  const trialDir = join(cfg.out, 'lr-search', 'lr-0.03');
  assert.deepEqual(readdirSync(trialDir).sort(), ['metrics.jsonl', 'report.html', 'run.json', 'trial.json'], 'trial weights and checkpoints are removed');
  const report = (await import('node:fs')).readFileSync(join(cfg.out, 'report.html'), 'utf8');
  assert.match(report, /Learning-rate search/);
  const again = await chooseLearningRate(cfg, { runTrial: () => assert.fail('finished trials are read back'), log: () => {} });
  assert.ok(again !== 'interrupted' && again.lr === choice.lr);
  assert.ok(Number.isNaN(again.trials![2].score), "a diverged trial's score reads back as NaN (JSON wrote null)");
});

test('a search interrupted between trials resumes with the finished trials read back', async () => {
  const cfg = base({ lr: 'auto', lrGrid: [1e-3, 1e-2], lrSearchSteps: 3 });
  const controller = new AbortController();
  let calls = 0;
  const first = await chooseLearningRate(cfg, { runTrial: async (c) => { calls += 1; const r = await train(c); controller.abort(); return r; }, log: () => {}, signal: controller.signal });
  assert.equal(first, 'interrupted');
  assert.equal(calls, 1);
  assert.ok(existsSync(join(cfg.out, 'lr-search', 'lr-0.001', 'trial.json')));
  const second = await chooseLearningRate(cfg, { runTrial: async (c) => { calls += 1; assert.ok(c.out.endsWith('lr-0.01')); return train(c); }, log: () => {} });
  assert.equal(calls, 2, 'only the unfinished trial runs');
  assert.ok(second !== 'interrupted' && second.trials!.length === 2);
});

test('a default grid whose best rate is at an edge grows past it, at most two points; a given grid does not', async () => {
  const peakAt = (peak: number): TrialRunner => async (c) => ({ status: 'completed', best: { value: -Math.abs(Math.log10(c.lr / peak)) }, finalEval: { loss: 1 } });
  // tiny GPT-2 (width 16), lora: the width rule suggests 0.024, so the grid is 0.01, 0.03, 0.1
  const up = await chooseLearningRate(base({ lr: 'auto', lrSearchSteps: 2 }), { runTrial: peakAt(0.3), log: () => {} });
  assert.ok(up !== 'interrupted');
  assert.deepEqual(up.trials!.map((t) => t.lr), [0.01, 0.03, 0.1, 0.3, 1], 'grows to 0.3, then 1 to see the peak is passed');
  assert.equal(up.lr, 0.3);
  const far = await chooseLearningRate(base({ lr: 'auto', lrSearchSteps: 2 }), { runTrial: peakAt(1e-5), log: () => {} });
  assert.ok(far !== 'interrupted');
  assert.deepEqual(far.trials!.map((t) => t.lr), [0.01, 0.03, 0.1, 0.003, 0.001], 'two points down, no more');
  assert.match(far.note, /at the edge of the rates tried/);
  const given = await chooseLearningRate(base({ lr: 'auto', lrGrid: [0.01, 0.1], lrSearchSteps: 2 }), { runTrial: peakAt(10), log: () => {} });
  assert.ok(given !== 'interrupted' && given.trials!.length === 2);
});

test('when every trial scores 100 %, the search keeps the lowest rate, not the lowest loss, and grows no edge', async () => {
  const t = (lr: number, score: number, loss: number) => ({ lr, status: 'completed', score, loss });
  // the case: three perfect trials, the highest rate with the lowest validation loss
  const perfect = [t(0.001, 1, 0.3), t(0.003, 1, 0.2), t(0.01, 1, 0.1)];
  const picked = pickSearchTrial(perfect, 'accuracy', 50)!;
  assert.equal(picked.tolerance, 0, '√(1·0/50) = 0');
  assert.equal(picked.chosen.lr, 0.001);
  assert.equal(pickSearchTrial([t(0.001, 0.98, 0.3), t(0.01, 1, 0.1)], 'accuracy', 50)!.chosen.lr, 0.01, 'a lower score outside the (zero) margin does not tie');
  const tried: number[] = [];
  const lines: string[] = [];
  const choice = await chooseLearningRate(base({ lr: 'auto', lrSearchSteps: 2 }), {
    // every trial perfect, the higher the rate the lower its loss: the best by loss sits at the high edge
    runTrial: async (c) => {
      tried.push(c.lr);
      return { status: 'completed', best: { value: 1 }, finalEval: { loss: 1e-4 / c.lr } };
    },
    log: (l) => lines.push(l),
  });
  assert.ok(choice !== 'interrupted');
  assert.equal(tried.length, 3, `no rate beyond an edge can beat 100 % (tried ${tried})`);
  assert.equal(choice.lr, Math.min(...tried));
  assert.match(lines.join('\n'), /the lowest of the rates tied at the best validation accuracy \(1\.0000\)/);
});

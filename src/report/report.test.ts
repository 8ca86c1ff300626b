import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meanStd, renderCompareReport, renderResultsMarkdown, type ComparedRun } from './compare.js';
import { renderRunReport } from './run.js';
import { lineChart, ticks } from './svg.js';
import type { MetricsLine } from '../train/metrics-log.js';

const line = (step: number, loss: number, extra: Partial<MetricsLine> = {}): MetricsLine => ({
  step, epoch: step / 10, loss, lr: 1e-3, gradNorm: 1, tokens: step * 100, tokensPerSec: 1000, elapsedS: step, peakTensorBytes: 1024 * step, peakRssBytes: 2048 * 1024 * step, ...extra,
});
const evalLine = (step: number, accuracy: number): MetricsLine => line(step, 1 / step, { eval: { loss: 0.5, accuracy, macroF1: accuracy, mcc: 0, examples: 10 } });

test('meanStd is the mean and the sample standard deviation', () => {
  // [1, 2, 3, 4]: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / 3 → √(5/3).
  const { mean, std } = meanStd([1, 2, 3, 4]);
  assert.equal(mean, 2.5);
  assert.ok(Math.abs(std - Math.sqrt(5 / 3)) < 1e-12);
  assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
});

test('results.md: one row per method, final metrics as mean ± std over seeds, time and peak memory', () => {
  const runs: ComparedRun[] = [
    { method: 'lora', seed: 0, dir: 'a', lines: [evalLine(5, 0.5), evalLine(10, 0.7)] },
    { method: 'lora', seed: 1, dir: 'b', lines: [evalLine(10, 0.8)] },
    { method: 'lora-pro', seed: 0, dir: 'c', lines: [evalLine(10, 0.9), line(11, Number.NaN, { stopped: 'step 11: not finite' })] },
  ];
  const md = renderResultsMarkdown(runs);
  const lora = md.split('\n').find((l) => l.startsWith('| lora |'))!;
  // accuracy of the last evaluations 0.7 and 0.8: mean 0.75, std √((0.05² + 0.05²) / 1) = 0.0707.
  assert.match(lora, /\| 0\.7500 ± 0\.0707 \|/);
  assert.match(lora, /\| 2 \| 10\.0 ± 0\.0 s \|/, 'two seeds; each took 10 s');
  assert.match(lora, /\| 10\.0 KiB \| 20\.0 MiB \|$/, 'the largest peak over seeds');
  const pro = md.split('\n').find((l) => l.startsWith('| lora-pro |'))!;
  assert.match(pro, /\| 0\.9000 ± 0\.0000 \|/);
  assert.match(pro, /1 \(1 diverged\)/);
  const html = renderCompareReport(runs);
  assert.ok(html.includes('>lora<') && html.includes('>lora-pro<'));
});

test('a run report escapes names, survives non-finite losses and says why a run stopped', () => {
  const lines = [line(1, 2), line(2, Number.NaN, { stopped: 'step 2: the training loss is not finite (loss NaN)' })];
  const html = renderRunReport(undefined, lines);
  assert.ok(html.includes('step 2: the training loss is not finite'));
  const run = { version: 1 as const, config: { method: 'lora', model: '<script>x</script>', task: 'classification', train: 't', rank: 8, alpha: 16, lr: 1, schedule: 'linear', batchSize: 1, gradAccum: 1, seed: 0 } as never, maxLength: 8, backend: 'cpu', trainExamples: 1, evalExamples: 0 };
  const named = renderRunReport(run, lines);
  assert.ok(!named.includes('<script>') && named.includes('&lt;script&gt;'));
});

test('charts: nice ticks, and no data is said rather than drawn', () => {
  assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(0.13, 0.61, 4), [0.2, 0.4, 0.6]); // raw step 0.12 rounds up to 0.2
  assert.match(lineChart({ title: 't', xLabel: 'x' }, [{ name: 'a', points: [[1, Number.NaN]] }]), /no data/);
  const svg = lineChart({ title: 't', xLabel: 'x' }, [{ name: 'a', points: [[1, 2], [2, 1]] }]);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+L[\d.]+,[\d.]+"/);
});

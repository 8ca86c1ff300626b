// The learning rates a run starts from: the width rule, the grid around it, and lorapro.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRecommendations, searchGrid, suggestedLearningRate } from './lr-defaults.js';
import { UsageError } from './errors.js';
import { tempDir } from './testing.js';

test('the width rule: the shipped base\'s benchmarked rates at width 128, the usual ones at GPT-2 and TinyLlama widths', () => {
  const close = (a: number, b: number) => Math.abs(a - b) <= 0.02 * b;
  // at 128: what `bench paper` chose (docs/results.md); at 768: (1/6)^1.5 and 1/6 of them
  const cases: [Parameters<typeof suggestedLearningRate>[0], number, number][] = [
    ['full', 128, 1e-3], ['lora', 128, 3e-3], ['lora-pro', 128, 1e-3], ['lora-plus', 128, 1e-3],
    ['full', 768, 6.8e-5], ['lora', 768, 5e-4], ['full', 2048, 1.5625e-5], ['lora', 4096, 9.375e-5],
  ];
  for (const [method, width, want] of cases) assert.ok(close(suggestedLearningRate(method, width), want), `${method} at ${width}: ${suggestedLearningRate(method, width)} vs ${want}`);
});

test('the search grid: half decades around the centre, snapped to 1 and 3', () => {
  assert.deepEqual(searchGrid(1e-3), [3e-4, 1e-3, 3e-3]);
  assert.deepEqual(searchGrid(3e-3), [1e-3, 3e-3, 1e-2]);
  assert.deepEqual(searchGrid(6.8e-5), [3e-5, 1e-4, 3e-4], 'centre 6.8e-5 snaps to 1e-4');
  assert.deepEqual(searchGrid(1e-3, 5), [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]);
  assert.deepEqual(searchGrid(1e-3, 1), [1e-3]);
});

test('lorapro.json: read when present, every mistake named with the file and key', async () => {
  const root = tempDir();
  assert.equal(await readRecommendations(root), undefined, 'no file: no recommendation');
  const write = (name: string, text: string) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'lorapro.json'), text);
    return dir;
  };
  const good = write('good', JSON.stringify({ recommended: { learningRate: { lora: 0.003, full: 1e-3 }, source: 'a grid' } }));
  assert.deepEqual(await readRecommendations(good), { learningRate: { lora: 0.003, full: 1e-3 }, source: 'a grid' });
  const bad: [string, string, RegExp][] = [
    ['not-json', '{ "recommended": ', /not-json[/\\]lorapro\.json:? (is )?not valid JSON/],
    ['no-rates', '{ "recommended": {} }', /no-rates[/\\]lorapro\.json: "recommended\.learningRate" must be an object/],
    ['unknown', '{ "recommended": { "learningRate": { "loar": 0.1 } } }', /unknown method "loar"/],
    ['negative', '{ "recommended": { "learningRate": { "lora": -1 } } }', /learningRate\.lora must be a positive number, got -1/],
  ];
  for (const [name, text, pattern] of bad) await assert.rejects(readRecommendations(write(name, text)), (e: Error) => e instanceof UsageError && pattern.test(e.message), name);
});

test('the shipped base recommends a rate for every benchmarked method', async () => {
  const rec = await readRecommendations(join(process.cwd(), 'models', 'lorapro-base'));
  assert.deepEqual(Object.keys(rec!.learningRate).sort(), ['full', 'lora', 'lora-plus', 'lora-pro', 'lora-pro-efficient', 'rslora']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../math/rng.js';
import { constantAccuracy, majorityLabel, splitPool, uniqueTexts, type LabelledText } from './split.js';

const SIZES = { train: 50, validation: 10, test: 20 };

function pool(n: number, labelOf: (i: number) => string): LabelledText[] {
  return Array.from({ length: n }, (_, i) => ({ text: `text ${String(i).padStart(4, '0')}`, label: labelOf(i) }));
}

test('uniqueTexts keeps one of each text, drops texts seen with two labels, and sorts by code unit', () => {
  const items = [
    { text: 'b', label: 'x' },
    { text: 'a', label: 'y' },
    { text: 'b', label: 'x' }, // plain repeat: kept once
    { text: 'c', label: 'x' },
    { text: 'c', label: 'y' }, // conflicting: dropped
    { text: 'B', label: 'y' }, // 'B' (0x42) sorts before 'a' (0x61) whatever the locale
  ];
  assert.deepEqual(uniqueTexts(items), [
    { text: 'B', label: 'y' },
    { text: 'a', label: 'y' },
    { text: 'b', label: 'x' },
  ]);
});

test('splitPool does not depend on the order the pool arrives in', () => {
  const items = pool(200, (i) => (i % 3 === 0 ? 'b' : 'a'));
  const first = splitPool(items, { seed: 5, sizes: SIZES });
  const shuffled = new Rng(99).shuffle([...items, ...items.slice(0, 30)]); // other order, with repeats
  assert.deepEqual(splitPool(shuffled, { seed: 5, sizes: SIZES }), first);
  assert.notDeepEqual(splitPool(items, { seed: 6, sizes: SIZES }).test, first.test);
});

test('splitPool: sizes, disjoint parts, labels sorted, lines are 1-based positions', () => {
  const items = pool(200, (i) => ['z', 'a', 'm'][i % 3]);
  const { labels, train, validation, test: held } = splitPool(items, { seed: 1, sizes: SIZES });
  assert.deepEqual(labels, ['a', 'm', 'z']);
  assert.deepEqual([train.length, validation.length, held.length], [50, 10, 20]);
  const texts = [...train, ...validation, ...held].map((e) => e.text);
  assert.equal(new Set(texts).size, texts.length);
  for (const part of [train, validation, held]) assert.deepEqual(part.map((e) => e.line), part.map((_, i) => i + 1));
  // Each example keeps its label: text i has label ['z', 'a', 'm'][i % 3].
  for (const e of [...train, ...validation, ...held]) assert.equal(labels[e.label], ['z', 'a', 'm'][Number(e.text.slice(5)) % 3]);
});

test('splitPool takes test and validation first, so the train cap leaves them alone', () => {
  const items = pool(100, (i) => (i < 50 ? 'a' : 'b'));
  const big = splitPool(items, { seed: 3, sizes: { train: 1000, validation: 10, test: 20 } });
  const small = splitPool(items, { seed: 3, sizes: { train: 5, validation: 10, test: 20 } });
  assert.equal(big.train.length, 70); // 100 − 20 − 10: the pool runs out before the cap
  assert.deepEqual(small.test, big.test);
  assert.deepEqual(small.validation, big.validation);
  assert.deepEqual(small.train, big.train.slice(0, 5));
});

test('splitPool with balance subsamples every label to the rarest count', () => {
  // 150 of "a", 50 of "b" → 50 + 50 kept; test 20 + validation 10 + train up to 50 = 80 of the 100.
  const items = pool(200, (i) => (i < 150 ? 'a' : 'b'));
  const { train, validation, test: held } = splitPool(items, { seed: 2, sizes: SIZES, balance: true });
  const all = [...train, ...validation, ...held];
  assert.equal(all.length, 80);
  const b = all.filter((e) => e.label === 1).length;
  assert.ok(b > 20 && b < 60, `expected about half "b" in a balanced sample, got ${b} of 80`);
  // The full balanced pool is exactly 50/50: with a train cap above what is left, every kept item appears.
  const whole = splitPool(items, { seed: 2, sizes: { ...SIZES, train: 1000 }, balance: true });
  const wholeAll = [...whole.train, ...whole.validation, ...whole.test];
  assert.deepEqual([0, 1].map((l) => wholeAll.filter((e) => e.label === l).length), [50, 50]);
});

test('splitPool refuses a pool too small for test, validation and one training example', () => {
  assert.throws(() => splitPool(pool(30, () => 'a'), { seed: 0, sizes: SIZES }), /30 distinct texts, need at least 31/);
});

test('majority label and constant accuracy', () => {
  const ex = (label: number) => ({ text: String(Math.random()), label, line: 1 });
  assert.equal(majorityLabel([ex(1), ex(2), ex(2), ex(0)], 3), 2);
  assert.equal(majorityLabel([ex(1), ex(0)], 2), 0); // tie → lowest index
  assert.equal(constantAccuracy([ex(1), ex(0), ex(1), ex(1)], 1), 3 / 4);
});

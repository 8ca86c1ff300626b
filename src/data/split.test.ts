import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shareOut, splitExamples } from './split.js';

test('shareOut: largest remainder, and never a class\'s last example', () => {
  // 10 of sizes [50, 30, 20] (n = 100): exact shares 5, 3, 2 → no remainders.
  assert.deepEqual(shareOut(10, [50, 30, 20]), [5, 3, 2]);
  // 3 of [5, 4, 1] (n = 10): exact 1.5, 1.2, 0.3 → floors 1, 1, 0 (1 left); largest remainder is
  // class 0 (0.5) → [2, 1, 0]. Class 2 could not take one anyway (size 1 keeps its only example).
  assert.deepEqual(shareOut(3, [5, 4, 1]), [2, 1, 0]);
  // 2 of [1, 1, 2] (n = 4): exact 0.5, 0.5, 1; caps 0, 0, 1 → [0, 0, 1]; the 1 left has nowhere to go.
  assert.deepEqual(shareOut(2, [1, 1, 2]), [0, 0, 1]);
  // Remainders tie (7 of [2, 2, 2, 2] → 1.75 each, floors 1, 3 left): earlier classes win.
  assert.deepEqual(shareOut(7, [2, 2, 2, 2]), [1, 1, 1, 1]); // caps of 1 each bind; 3 cannot be placed
  assert.deepEqual(shareOut(5, [4, 4]), [3, 2]); // exact 2.5 each, floors 2, 2; tie → class 0
});

test('the split is a pure function of the seed, keeps file order and stratifies', () => {
  // 60 of class "a", 30 of "b", 10 of "c"; 20% → 20 held out: 12 a, 6 b, 2 c.
  const examples = Array.from({ length: 100 }, (_, i) => ({ i, label: i < 60 ? 'a' : i < 90 ? 'b' : 'c' }));
  const options = { seed: 7, validationFraction: 0.2, stratifyBy: (e: { label: string }) => e.label };
  const first = splitExamples(examples, options);
  assert.deepEqual(splitExamples(examples, options), first);
  assert.equal(first.eval.length, 20);
  assert.equal(first.train.length, 80);
  const count = (xs: { label: string }[], l: string) => xs.filter((x) => x.label === l).length;
  assert.deepEqual(['a', 'b', 'c'].map((l) => count(first.eval, l)), [12, 6, 2]);
  for (const part of [first.train, first.eval]) assert.deepEqual(part.map((e) => e.i), [...part.map((e) => e.i)].sort((x, y) => x - y));
  assert.deepEqual([...first.train, ...first.eval].map((e) => e.i).sort((x, y) => x - y), examples.map((e) => e.i));
  const other = splitExamples(examples, { ...options, seed: 8 });
  assert.notDeepEqual(other.eval.map((e) => e.i), first.eval.map((e) => e.i));
});

test('plain split: at least one held out, never all; fraction 0 holds none; bad options are named', () => {
  const three = [1, 2, 3];
  assert.equal(splitExamples(three, { seed: 1, validationFraction: 0.01 }).eval.length, 1); // round(0.03) = 0 → 1
  assert.equal(splitExamples(three, { seed: 1, validationFraction: 0.9 }).train.length, 1); // round(2.7) = 3 → 2
  assert.deepEqual(splitExamples(three, { seed: 1, validationFraction: 0 }), { train: [1, 2, 3], eval: [] });
  assert.throws(() => splitExamples(three, { seed: 1, validationFraction: 1 }), /validationFraction must be a number in \[0, 1\), got 1/);
  assert.throws(() => splitExamples(three, { seed: 0.5, validationFraction: 0.1 }), /seed must be an integer, got 0.5/);
});

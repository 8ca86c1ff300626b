import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passages, sentences } from './sotu-party.js';

test('sentences: split after . ! ?, not after titles or initials; stage directions removed', () => {
  const speech = 'Mr. Speaker, thank you. (Applause.) John F. Kennedy said so! Did he? "Yes," I said. 3 ships sailed.';
  assert.deepEqual(sentences(speech), ['Mr. Speaker, thank you.', 'John F. Kennedy said so!', 'Did he?', '"Yes," I said.', '3 ships sailed.']);
});

test('passages: whole sentences, grown to the target, never past the maximum, short tails dropped', () => {
  const s = (n: number, c: string): string => `${c.repeat(n - 1)}.`; // one sentence of n characters
  // Sentences of 120, 120, 120 | 400 | 700 (too long) | 250 | 50 (tail). Target 300, min 200, max 600:
  // 120+1+120 = 241 < 300, +1+120 = 362 ≥ 300 → passage 1; 400 → passage 2; 700 dropped;
  // 250 < 300, then +1+50 = 301 → passage 3.
  const speech = [s(120, 'A'), s(120, 'B'), s(120, 'C'), s(400, 'D'), s(700, 'E'), s(250, 'F'), s(50, 'G')].join(' ');
  assert.deepEqual(passages(speech).map((p) => p.length), [362, 400, 301]);
  // A 150-character passage that a long sentence would push past the maximum is dropped (< min).
  assert.deepEqual(passages([s(150, 'A'), s(500, 'B')].join(' ')).map((p) => p.length), [500]);
  assert.deepEqual(passages(s(100, 'A')), []);
});

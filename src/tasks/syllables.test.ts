import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syllableCount, syllableLabel } from './syllables.js';

test('syllables: vowel phonemes carry a stress digit', () => {
  assert.equal(syllableCount('S IH1 L AH0 B AH0 L'), 3); // syllable
  assert.equal(syllableCount('K AE1 T'), 1); // cat
  assert.equal(syllableCount('HH M'), 0);
  assert.deepEqual([1, 2, 3, 4, 7].map(syllableLabel), ['1', '2', '3', '4+', '4+']);
});

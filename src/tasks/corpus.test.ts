import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkText, mobyDick } from './corpus.js';

test('Moby-Dick loads as chapters from the npm package, in book order', () => {
  const c = mobyDick();
  assert.match(c.source, /^@stdlib\/datasets-moby-dick@\d+\.\d+\.\d+$/);
  assert.ok(c.chapters.length > 100);
  assert.ok(c.chapters.some((t) => t.includes('Call me Ishmael.')));
  const total = c.chapters.reduce((n, t) => n + t.length, 0);
  assert.ok(total > 1_000_000, `only ${total} characters`);
});

test('chunkText cuts at whitespace, within chapters, to at most the given size', () => {
  const chunks = chunkText(['one two three four five six', 'seven eight'], 10, 3);
  // "one two three four five six" → "one two" (cut before "three" at 10), "three four", "five six".
  assert.deepEqual(chunks, ['one two', 'three four', 'five six', 'seven', 'eight']);
  assert.ok(chunks.every((c) => c.length <= 10));
  assert.throws(() => chunkText(['x'], 0), /chars must be a positive integer, got 0/);
});

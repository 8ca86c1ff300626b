import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byteLevelTokenizer, bytesToUnicode } from './byte-tokenizer.js';
import { loadTokenizer } from './tokenizer.js';

test('the byte alphabet is a bijection onto 256 printable characters', () => {
  const a = bytesToUnicode();
  assert.equal(new Set(a).size, 256);
  assert.equal(a[65], 'A'); // printable ASCII maps to itself
  assert.equal(a[32], 'Ġ'); // space → U+0120, the familiar GPT-2 'Ġ'
  assert.equal(a[10], 'Ċ'); // newline → U+010A
});

test('a byte-level tokenizer.json loads and encodes every UTF-8 byte as one token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lorapro-bytetok-'));
  try {
    const files = byteLevelTokenizer();
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
    const tok = await loadTokenizer(dir);
    const text = 'Call me Ishmael. Ünïcode ✓';
    const ids = tok.encode(text, { addSpecialTokens: false });
    assert.deepEqual(ids, [...new TextEncoder().encode(text)]); // ids are the UTF-8 bytes themselves
    assert.equal(tok.decode(ids), text);
    assert.equal(tok.vocabSize, 257);
    assert.equal(tok.eosTokenId, 256);
    assert.equal(tok.padTokenId, 256);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

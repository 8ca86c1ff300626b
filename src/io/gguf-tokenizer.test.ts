import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ggufTokenizer } from './gguf-tokenizer.js';
import type { GgufKv } from './gguf-write.js';
import { bpeTokenizer, type BpeStyle } from './testing-bpe.js';
import { tokenizerFromJson } from './tokenizer.js';

const BASE = fileURLToPath(new URL('../../models/lorapro-base/', import.meta.url));
const TEXT = "Call me Ishmael. Some years ago—never mind how long precisely—I've 1234 reasons; she'll say 'RE: no'.\n\n  Whale!";
const value = (kvs: GgufKv[], key: string): unknown => kvs.find((k) => k.key === key)?.value;

test("the shipped base's tokenizer: GPT-2's pre-tokenizer, 256 bytes and <|endoftext|> as a control token, no merges, no bos added", () => {
  const files = { tokenizerJson: JSON.parse(readFileSync(`${BASE}tokenizer.json`, 'utf8')), tokenizerConfig: JSON.parse(readFileSync(`${BASE}tokenizer_config.json`, 'utf8')) };
  const { kvs, pre } = ggufTokenizer(files, 'models/lorapro-base', 257);
  assert.equal(pre, 'gpt-2');
  assert.equal(value(kvs, 'tokenizer.ggml.model'), 'gpt2');
  const tokens = value(kvs, 'tokenizer.ggml.tokens') as string[];
  const types = value(kvs, 'tokenizer.ggml.token_type') as number[];
  assert.equal(tokens.length, 257);
  assert.deepEqual([tokens[32], tokens[65], tokens[256]], ['Ġ', 'A', '<|endoftext|>']);
  assert.deepEqual([types[0], types[256]], [1, 3]); // NORMAL, CONTROL
  assert.deepEqual(value(kvs, 'tokenizer.ggml.merges'), []);
  assert.equal(value(kvs, 'tokenizer.ggml.eos_token_id'), 256);
  assert.equal(value(kvs, 'tokenizer.ggml.padding_token_id'), 256);
  assert.equal(value(kvs, 'tokenizer.ggml.add_bos_token'), false);
});

const STYLES: [BpeStyle, { addBos: boolean }][] = [['gpt-2', { addBos: false }], ['smollm', { addBos: false }], ['llama-bpe', { addBos: true }], ['qwen2', { addBos: false }]];
for (const [style, { addBos }] of STYLES) {
  test(`a ${style} tokenizer.json maps to tokenizer.ggml.pre "${style}" with its merges and special tokens`, () => {
    const t = bpeTokenizer(style, TEXT.repeat(3));
    const tok = tokenizerFromJson(t, 'mem');
    assert.deepEqual(tok.decode(tok.encode(TEXT, { addSpecialTokens: false })), TEXT); // the library runs it
    const { kvs, pre } = ggufTokenizer(t, 'mem', t.vocabSize + 3);
    assert.equal(pre, style);
    assert.equal((value(kvs, 'tokenizer.ggml.merges') as string[])[0].split(' ').length, 2); // "a b"
    assert.equal(value(kvs, 'tokenizer.ggml.add_bos_token'), addBos);
    assert.equal(value(kvs, 'tokenizer.ggml.bos_token_id'), t.bosTokenId);
    assert.equal(value(kvs, 'tokenizer.ggml.eos_token_id'), t.eosTokenId);
    const tokens = value(kvs, 'tokenizer.ggml.tokens') as string[];
    assert.equal(tokens[t.vocabSize + 2], `[PAD${t.vocabSize + 2}]`); // padded to the embedding rows, as convert_hf_to_gguf.py
    assert.equal((value(kvs, 'tokenizer.ggml.token_type') as number[])[t.vocabSize], 5); // UNUSED
    assert.match(value(kvs, 'tokenizer.chat_template') as string, /messages/);
  });
}

test('tokenizers llama.cpp would split differently are refused, with the reason', () => {
  const base = bpeTokenizer('llama-bpe', TEXT);
  const json = base.tokenizerJson as { model: Record<string, unknown>; pre_tokenizer: { pretokenizers: Record<string, unknown>[] } };
  const variant = (edit: (j: Record<string, unknown> & typeof json) => void) => {
    const j = structuredClone(base.tokenizerJson) as Record<string, unknown> & typeof json;
    edit(j);
    return () => ggufTokenizer({ tokenizerJson: j, tokenizerConfig: base.tokenizerConfig }, 'tok', base.vocabSize);
  };
  assert.throws(variant((j) => (j.model.type = 'WordPiece')), /tok\/tokenizer\.json: this tokenizer cannot be exported to GGUF: its model is "WordPiece", not byte-level BPE/);
  assert.throws(variant((j) => (j.model.byte_fallback = true)), /SentencePiece-style BPE \(byte_fallback\)/);
  assert.throws(variant((j) => (j.pre_tokenizer.pretokenizers[0] = { type: 'Split', pattern: { Regex: '\\p{L}+' }, behavior: 'Isolated', invert: false })), /its pre_tokenizer .* is none of llama\.cpp's byte-level ones/);
  assert.throws(variant((j) => (j.normalizer = { type: 'Lowercase' })), /its normalizer \{"type":"Lowercase"\} is not applied by llama\.cpp/);
  assert.throws(variant((j) => (j.model.ignore_merges = false)), /model\.ignore_merges is false, but llama\.cpp's "llama-bpe" pre-tokenizer runs with ignore_merges true/);
  assert.throws(() => ggufTokenizer(base, 'tok', 10), /more than the model's 10 embedding rows/);
});

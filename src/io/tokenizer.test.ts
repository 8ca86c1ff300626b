import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, tokenizerFromJson } from './tokenizer.js';
import { padBatch, truncatePair } from './tokenizer-batch.js';

/** A fresh folder holding `files` (objects are written as JSON, strings as they are). */
function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-tok-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

// ---- 1. WordLevel with a whitespace pre-tokenizer, Llama-style add_bos_token, no pad token ----------
// ids: <unk>=0 <s>=1 </s>=2 hello=3 world=4 a=5 b=6 c=7 !=8
const WORD_LEVEL = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  post_processor: null,
  decoder: null,
  model: { type: 'WordLevel', vocab: { '<unk>': 0, '<s>': 1, '</s>': 2, hello: 3, world: 4, a: 5, b: 6, c: 7, '!': 8 }, unk_token: '<unk>' },
};
const CHAT = "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}";
const WORD_LEVEL_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: '<s>',
  eos_token: { content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  unk_token: '<unk>',
  padding_side: 'left',
  model_max_length: 6,
  chat_template: CHAT,
  tokenizer_class: 'LlamaTokenizer',
};

// ---- 2. GPT-2-style byte-level BPE: "hello world!" → hello | Ġwor l d | ! ------------------------
// "Ġworld" merges by rank: "Ġ w"(4) → Ġw, "o r"(5) → or, "Ġw or"(6) → Ġwor; "l", "d" stay.
const BPE = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [added(16, '<|endoftext|>')],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: '',
    end_of_word_suffix: '',
    fuse_unk: false,
    byte_fallback: false,
    vocab: { h: 0, e: 1, l: 2, o: 3, 'Ġ': 4, w: 5, r: 6, d: 7, he: 8, ll: 9, hell: 10, hello: 11, 'Ġw': 12, or: 13, 'Ġwor': 14, '!': 15 },
    merges: ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or'],
  },
};

// ---- 3. BERT WordPiece with [CLS] … [SEP] from TemplateProcessing -------------------------------
// ids: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4 the=5 cat=6 sat=7 on=8 mat=9 ##s=10 dog=11 .=12
const special = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
const BERT = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: [added(0, '[PAD]'), added(1, '[UNK]'), added(2, '[CLS]'), added(3, '[SEP]'), added(4, '[MASK]')],
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  post_processor: {
    type: 'TemplateProcessing',
    single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
    pair: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
    special_tokens: {
      '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
      '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
    },
  },
  decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
  model: {
    type: 'WordPiece',
    unk_token: '[UNK]',
    continuing_subword_prefix: '##',
    max_input_chars_per_word: 100,
    vocab: { '[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '[MASK]': 4, the: 5, cat: 6, sat: 7, on: 8, mat: 9, '##s': 10, dog: 11, '.': 12 },
  },
};
const BERT_CONFIG = {
  do_lower_case: true,
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  model_max_length: 512,
  tokenizer_class: 'BertTokenizer',
};

test('word-level: bos added by add_bos_token, unknown words map to <unk>, decode round trip', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': WORD_LEVEL, 'tokenizer_config.json': WORD_LEVEL_CONFIG }));
  assert.equal(tok.vocabSize, 9);
  assert.deepEqual(tok.encode('hello world!'), [1, 3, 4, 8]);
  assert.deepEqual(tok.encode('hello world!', { addSpecialTokens: false }), [3, 4, 8]);
  assert.deepEqual(tok.encode('hello zebra'), [1, 3, 0]);
  assert.equal(tok.decode([1, 3, 4, 8]), '<s> hello world !'); // no decoder: tokens joined by spaces
  assert.equal(tok.decode([1, 3, 4, 8], { skipSpecialTokens: true }), 'hello world !');
  assert.equal(tok.decode([]), '');
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId], [1, 2, 0]);
});

test('word-level: no pad token, so eos pads, on the left as tokenizer_config says', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': WORD_LEVEL, 'tokenizer_config.json': WORD_LEVEL_CONFIG }));
  assert.equal(tok.padTokenId, 2);
  assert.equal(tok.padTokenIsEos, true);
  assert.equal(tok.paddingSide, 'left');
  const batch = tok.encodeBatch(['a b c', 'hello']);
  assert.deepEqual(batch.inputIds, [
    [1, 5, 6, 7],
    [2, 2, 1, 3],
  ]);
  assert.deepEqual(batch.attentionMask, [
    [1, 1, 1, 1],
    [0, 0, 1, 1],
  ]);
  assert.deepEqual(batch.lengths, [4, 2]);
});

test('word-level: truncation keeps room for bos; max_length padding; model_max_length as the default', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': WORD_LEVEL, 'tokenizer_config.json': WORD_LEVEL_CONFIG }));
  const cut = tok.encodeBatch(['a b c a b c', 'c'], { maxLength: 3, padding: 'max_length' });
  assert.deepEqual(cut.inputIds, [
    [1, 5, 6], // <s> a b
    [2, 1, 7], // pad <s> c
  ]);
  assert.deepEqual(cut.lengths, [3, 2]);
  // truncation: true with no maxLength uses model_max_length = 6
  assert.deepEqual(tok.encodeBatch(['a b c a b c a'], { truncation: true }).inputIds, [[1, 5, 6, 7, 5, 6]]);
  // no truncation: rows keep every token
  assert.deepEqual(tok.encodeBatch(['a b c a b c a']).lengths, [8]);
  // padding false leaves rows ragged
  assert.deepEqual(tok.encodeBatch(['a b', 'c'], { padding: false }).inputIds, [[1, 5, 6], [1, 7]]);
});

test('word-level: add_eos_token appends eos', async () => {
  const tok = tokenizerFromJson({ tokenizerJson: WORD_LEVEL, tokenizerConfig: { ...WORD_LEVEL_CONFIG, add_eos_token: true } });
  assert.deepEqual(tok.encode('a b'), [1, 5, 6, 2]);
  // A pair is wrapped per text, as LlamaTokenizerFast's template: <s> A </s> <s> B </s>
  assert.deepEqual(tok.encodeWithTypes('a', { textPair: 'b' }), { ids: [1, 5, 2, 1, 6, 2], tokenTypeIds: [0, 0, 0, 1, 1, 1] });
  // <s> and </s> take 2 of maxLength 3, leaving 1 token of text
  assert.deepEqual(tok.encodeBatch(['a b c'], { maxLength: 3 }).inputIds, [[1, 5, 2]]);
});

test('chat template renders messages with bos/eos and the generation prompt', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': WORD_LEVEL, 'tokenizer_config.json': WORD_LEVEL_CONFIG }));
  assert.equal(tok.hasChatTemplate, true);
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ];
  assert.equal(tok.applyChatTemplate(messages, { addGenerationPrompt: true }), '<s><|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n');
  assert.equal(tok.applyChatTemplate(messages), '<s><|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n');
  assert.throws(() => tok.applyChatTemplate([{ role: 'user' } as never]), /messages\[0\] must be \{ role: string, content: string \}/);
});

test('chat templates: block tags eat their newline (trim_blocks), lists pick "default", chat_template.jinja wins', async () => {
  const multiline = '{% for m in messages %}\n{{ m.role }}: {{ m.content }}\n{% endfor %}\n{% if add_generation_prompt %}\nassistant:{% endif %}';
  const list = [
    { name: 'tool_use', template: 'TOOLS' },
    { name: 'default', template: multiline },
  ];
  const tok = tokenizerFromJson({ tokenizerJson: WORD_LEVEL, tokenizerConfig: { ...WORD_LEVEL_CONFIG, chat_template: list } });
  // Jinja with trim_blocks (as transformers renders): the newline after each block tag is dropped.
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }), 'user: Hi\nassistant:');
  assert.equal(tok.applyChatTemplate([], { templateName: 'tool_use' }), 'TOOLS');

  const dir = folder({ 'tokenizer.json': WORD_LEVEL, 'tokenizer_config.json': WORD_LEVEL_CONFIG, 'chat_template.jinja': 'FILE {{ messages[0].content }}' });
  assert.equal((await loadTokenizer(dir)).applyChatTemplate([{ role: 'user', content: 'x' }]), 'FILE x');
});

test('a folder without a chat template says so when asked for one', async () => {
  const dir = folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': BERT_CONFIG });
  const tok = await loadTokenizer(dir);
  assert.equal(tok.hasChatTemplate, false);
  assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), (err: Error) => {
    assert.match(err.message, /no chat template "default"/);
    assert.ok(err.message.includes(dir), err.message);
    return true;
  });
  const broken = tokenizerFromJson({ tokenizerJson: BERT, tokenizerConfig: { ...BERT_CONFIG, chat_template: '{% for %}' } }, '/m');
  assert.throws(() => broken.applyChatTemplate([]), /\/m\/tokenizer_config\.json chat_template "default": chat template does not parse/);
});

test('byte-level BPE: round trip, no special tokens added, eos from the GPT-2 class defaults pads', async () => {
  // Like the real gpt2 repo: tokenizer_config.json names no special tokens; config.json says model_type gpt2.
  const dir = folder({ 'tokenizer.json': BPE, 'tokenizer_config.json': { model_max_length: 1024 }, 'config.json': { model_type: 'gpt2' } });
  const tok = await loadTokenizer(dir);
  assert.equal(tok.vocabSize, 17);
  const ids = tok.encode('hello world!');
  assert.deepEqual(ids, [11, 14, 2, 7, 15]);
  assert.equal(tok.decode(ids), 'hello world!');
  assert.deepEqual(tok.encode('hello world!<|endoftext|>'), [11, 14, 2, 7, 15, 16]);
  assert.equal(tok.decode([11, 14, 2, 7, 15, 16], { skipSpecialTokens: true }), 'hello world!');
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.padTokenId, tok.padTokenIsEos], [16, 16, 16, true]);
  assert.equal(tok.paddingSide, 'right');
  assert.equal(tok.modelMaxLength, 1024);

  const batch = tok.encodeBatch(['hello world!', 'hello']);
  assert.deepEqual(batch.inputIds, [
    [11, 14, 2, 7, 15],
    [11, 16, 16, 16, 16],
  ]);
  assert.deepEqual(batch.attentionMask, [
    [1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0],
  ]);
  assert.deepEqual(tok.encodeBatch(['hello world!', 'hello'], { padToMultipleOf: 4 }).inputIds[1], [11, 16, 16, 16, 16, 16, 16, 16]);
});

test('byte-level BPE: a pair keeps its second text (the library alone drops it)', () => {
  const tok = tokenizerFromJson({ tokenizerJson: BPE, modelType: 'gpt2' });
  assert.deepEqual(tok.encodeWithTypes('hello', { textPair: ' world' }), { ids: [11, 14, 2, 7], tokenTypeIds: [0, 1, 1, 1] });
});

test('special_tokens_map.json fills in what tokenizer_config.json leaves out', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': BPE, 'special_tokens_map.json': { eos_token: '<|endoftext|>' } }));
  assert.deepEqual([tok.eosTokenId, tok.bosTokenId, tok.padTokenId], [16, undefined, 16]);
});

test('padding without pad or eos token is an error naming the tokenizer folder', async () => {
  const dir = folder({ 'tokenizer.json': BPE }); // no config, no model_type: no special tokens at all
  const tok = await loadTokenizer(dir);
  assert.equal(tok.padTokenId, undefined);
  assert.equal(tok.padTokenIsEos, false);
  assert.deepEqual(tok.encodeBatch(['hello'], { padding: false }).inputIds, [[11]]);
  assert.throws(() => tok.encodeBatch(['hello', 'hello world!']), (err: Error) => {
    assert.match(err.message, /padding needs a pad token, and the tokenizer has neither pad_token nor eos_token/);
    assert.ok(err.message.includes(dir), err.message);
    return true;
  });
});

test('BERT WordPiece: [CLS] … [SEP], lower-casing, sub-words and [UNK]', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': BERT_CONFIG }));
  assert.deepEqual(tok.encode('The cats sat.'), [2, 5, 6, 10, 7, 12, 3]); // [CLS] the cat ##s sat . [SEP]
  assert.deepEqual(tok.encode('The cats sat.', { addSpecialTokens: false }), [5, 6, 10, 7, 12]);
  assert.deepEqual(tok.encode('the zebra'), [2, 5, 1, 3]);
  assert.equal(tok.decode([2, 5, 6, 10, 7, 12, 3], { skipSpecialTokens: true }), 'the cats sat.');
  assert.deepEqual([tok.padTokenId, tok.padTokenIsEos, tok.unkTokenId, tok.eosTokenId], [0, false, 1, undefined]);
});

test('BERT pairs: [CLS] a [SEP] b [SEP] with token types, longest-first truncation, padding', async () => {
  const tok = await loadTokenizer(folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': BERT_CONFIG }));
  assert.deepEqual(tok.encodeWithTypes('the cat', { textPair: 'dogs' }), {
    ids: [2, 5, 6, 3, 11, 10, 3], // [CLS] the cat [SEP] dog ##s [SEP]
    tokenTypeIds: [0, 0, 0, 0, 1, 1, 1],
  });
  assert.deepEqual(tok.encode('the cat', { textPair: 'dogs' }), [2, 5, 6, 3, 11, 10, 3]);
  // maxLength 6 − 3 specials = 3 for the texts; both have 2: the first gets 1, the second 2.
  assert.deepEqual(tok.encodeBatch([['the cat', 'dogs']], { maxLength: 6 }).inputIds, [[2, 5, 3, 11, 10, 3]]);

  const batch = tok.encodeBatch([
    ['the cat', 'dogs'],
    ['the', 'mat'],
  ]);
  assert.deepEqual(batch.inputIds, [
    [2, 5, 6, 3, 11, 10, 3],
    [2, 5, 3, 9, 3, 0, 0],
  ]);
  assert.deepEqual(batch.tokenTypeIds, [
    [0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 1, 1, 0, 0],
  ]);
  assert.deepEqual(batch.attentionMask[1], [1, 1, 1, 1, 1, 0, 0]);
  assert.throws(() => tok.encodeBatch(['the'], { maxLength: 1 }), /maxLength 1 leaves no room after 2 special tokens/);
});

test('encodeBatch refuses bad lengths by name', () => {
  const tok = tokenizerFromJson({ tokenizerJson: BERT, tokenizerConfig: BERT_CONFIG });
  assert.throws(() => tok.encodeBatch(['the'], { maxLength: 0 }), /maxLength must be a positive integer, got 0/);
  assert.throws(() => tok.encodeBatch(['the'], { padToMultipleOf: 2.5 }), /padToMultipleOf must be a positive integer, got 2\.5/);
  const unlimited = tokenizerFromJson({ tokenizerJson: BERT, tokenizerConfig: { ...BERT_CONFIG, model_max_length: 1e30 } }, '/m');
  assert.equal(unlimited.modelMaxLength, undefined);
  assert.throws(() => unlimited.encodeBatch(['the'], { padding: 'max_length' }), /\/m\): padding "max_length" needs maxLength/);
  assert.throws(() => tok.encodeBatch(['the cat sat on the mat'], { padding: 'max_length', maxLength: 4, truncation: false }), /row 0 has 8 tokens, more than maxLength 4/);
  assert.throws(() => tok.decode([13]), /ids\[0\] must be an integer in \[0, 13\), got 13/);
});

test('missing and malformed files are errors naming the path', async () => {
  const empty = folder({});
  await assert.rejects(loadTokenizer(empty), new RegExp(`${join(empty, 'tokenizer.json')} not found`));
  const broken = folder({ 'tokenizer.json': '{"model": ' });
  await assert.rejects(loadTokenizer(broken), new RegExp(`${join(broken, 'tokenizer.json')}: not valid JSON`));
  const noModel = folder({ 'tokenizer.json': { added_tokens: [] } });
  await assert.rejects(loadTokenizer(noModel), new RegExp(`${noModel}/tokenizer.json: "model" must be a JSON object, got undefined`));
  const badConfig = folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': '{,}' });
  await assert.rejects(loadTokenizer(badConfig), new RegExp(`${join(badConfig, 'tokenizer_config.json')}: not valid JSON`));
  const badSide = folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': { ...BERT_CONFIG, padding_side: 'middle' } });
  await assert.rejects(loadTokenizer(badSide), /tokenizer_config\.json: "padding_side" must be "left" or "right", got "middle"/);
  const badPad = folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': { ...BERT_CONFIG, pad_token: '<pad>' } });
  await assert.rejects(loadTokenizer(badPad), /pad_token "<pad>" is not in the vocabulary of .*tokenizer\.json/);
  const badToken = folder({ 'tokenizer.json': BERT, 'tokenizer_config.json': { ...BERT_CONFIG, eos_token: 7 } });
  await assert.rejects(loadTokenizer(badToken), /"eos_token" must be a string or an object with a string "content", got 7/);
  const badModel = folder({ 'tokenizer.json': { ...BERT, model: { type: 'Nonsense' } } });
  await assert.rejects(loadTokenizer(badModel), /tokenizer\.json: cannot build the tokenizer: Unknown TokenizerModel type: Nonsense/);
});

test('truncatePair follows tokenizers’ longest_first', () => {
  const seq = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
  const lengths = (a: number, b: number, budget: number) => truncatePair(seq(a, 'a'), seq(b, 'b'), budget, 'right').map((s) => s.length);
  assert.deepEqual(lengths(2, 10, 6), [2, 4]); // the short one fits whole, the long one gets the rest
  assert.deepEqual(lengths(10, 2, 6), [4, 2]);
  assert.deepEqual(lengths(5, 5, 5), [2, 3]); // neither fits half: halves, the second gets the odd token
  assert.deepEqual(lengths(1, 1, 5), [1, 1]);
  assert.deepEqual(truncatePair(seq(3, 'a'), seq(3, 'b'), 4, 'left'), [['a1', 'a2'], ['b1', 'b2']]);
});

test('padBatch pads on either side and refuses rows longer than the target', () => {
  const rows = [{ ids: [7, 8], typeIds: [0, 1] }];
  assert.deepEqual(padBatch(rows, 4, 0, 'left'), { inputIds: [[0, 0, 7, 8]], attentionMask: [[0, 0, 1, 1]], tokenTypeIds: [[0, 0, 0, 1]], lengths: [2] });
  assert.deepEqual(padBatch(rows, 3, 9, 'right').inputIds, [[7, 8, 9]]);
  assert.throws(() => padBatch(rows, 1, 0, 'right'), /row of 2 tokens is longer than the target length 1/);
});

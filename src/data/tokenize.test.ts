import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CausalLmExample, ChatMessage } from './examples.js';
import { tokenizeCausalLm, tokenizeClassification, type TokenEncoder } from './tokenize.js';

// Character-level stand-ins: a token is a character's code point, so expected ids can be written
// from the text directly and decoded back for readable assertions.
const CLS = 101;
const SEP = 102;
const BOS = 1;
const EOS = 2;
const codes = (s: string): number[] => [...s].map((c) => c.codePointAt(0) as number);
const decode = (ids: number[]): string => ids.map((id) => (id === BOS ? '<s>' : id === EOS ? '</s>' : String.fromCodePoint(id))).join('');

/** BERT-like: [CLS] a [SEP] (b [SEP]). */
const bertLike: TokenEncoder = {
  padTokenId: 0,
  encode: (text, opts = {}) =>
    opts.addSpecialTokens ? [CLS, ...codes(text), SEP, ...(opts.textPair === undefined ? [] : [...codes(opts.textPair), SEP])] : codes(text),
};

/** GPT/Llama-like: BOS when adding special tokens, an EOS id, and a ChatML-style template. */
function decoderLike(template?: TokenEncoder['applyChatTemplate']): TokenEncoder {
  return {
    padTokenId: undefined,
    eosTokenId: EOS,
    encode: (text, opts = {}) => [...(opts.addSpecialTokens ? [BOS] : []), ...codes(text)],
    applyChatTemplate: template,
  };
}
const chatml = (messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string =>
  messages.map((m) => `<${m.role}>${m.content}</>\n`).join('') + (opts.addGenerationPrompt ? '<assistant>' : '');

/** The trained characters (labels ≠ -100) and the masked ones, as text. */
function split(item: { ids: number[]; labels: number[] }): { trained: string; masked: string } {
  const trained = item.ids.filter((_, t) => item.labels[t] !== -100);
  const masked = item.ids.filter((_, t) => item.labels[t] === -100);
  item.labels.forEach((l, t) => l !== -100 && assert.equal(l, item.ids[t], 'labels are the ids themselves, unshifted'));
  return { trained: decode(trained), masked: decode(masked) };
}

test('classification: special tokens, truncation, and segment ids for pairs', () => {
  const out = tokenizeClassification(
    [
      { text: 'ab', label: 1, line: 3 },
      { text: 'xy', textPair: 'z', label: 0, line: 4 },
      { text: 'abcdef', label: 0, line: 5 },
    ],
    bertLike,
    5,
  );
  assert.deepEqual(out[0], { ids: [CLS, 97, 98, SEP], label: 1, line: 3 });
  // [CLS] x y [SEP] z [SEP]: the first four are segment 0, "z [SEP]" segment 1.
  assert.deepEqual(out[1], { ids: [CLS, 120, 121, SEP, 122], label: 0, line: 4, typeIds: [0, 0, 0, 0, 1] });
  assert.deepEqual(out[2].ids, [CLS, 97, 98, 99, 100]); // cut to 5
  assert.throws(() => tokenizeClassification([], bertLike, 0), /maxLength must be a positive integer, got 0/);
});

test('causal LM: text trains on every token, prompt/completion only on the completion and EOS', () => {
  const examples: CausalLmExample[] = [
    { kind: 'text', text: 'hi', line: 1 },
    { kind: 'prompt', prompt: 'Q?', completion: 'A', line: 2 },
  ];
  const [text, prompt] = tokenizeCausalLm(examples, decoderLike(), 64);
  assert.deepEqual(text, { ids: [BOS, 104, 105, EOS], labels: [BOS, 104, 105, EOS], line: 1 });
  assert.deepEqual(prompt, { ids: [BOS, 81, 63, 65, EOS], labels: [-100, -100, -100, 65, EOS], line: 2 });
});

test('causal LM: an example whose prompt fills maxLength is left out and reported', () => {
  const skipped: [number, string][] = [];
  const examples: CausalLmExample[] = [
    { kind: 'prompt', prompt: 'long prompt', completion: 'x', line: 7 },
    { kind: 'prompt', prompt: 'ab', completion: 'cdefgh', line: 8 },
  ];
  const out = tokenizeCausalLm(examples, decoderLike(), 4, { onSkip: (line, reason) => skipped.push([line, reason]) });
  assert.deepEqual(skipped, [[7, 'the prompt fills all 4 tokens']]);
  // <s> a b | c  (the completion is cut, keeping what fits)
  assert.deepEqual(out, [{ ids: [BOS, 97, 98, 99], labels: [-100, -100, -100, 99], line: 8 }]);
});

test('chat: only assistant turns (content and end-of-turn marker) are trained on', () => {
  const messages: ChatMessage[] = [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'yo' },
    { role: 'user', content: 'ok?' },
    { role: 'assistant', content: 'k' },
  ];
  const [item] = tokenizeCausalLm([{ kind: 'chat', messages, line: 1 }], decoderLike(chatml), 1000);
  // Rendered by hand: <system>be brief</>\n<user>hi</>\n<assistant>yo</>\n<user>ok?</>\n<assistant>k</>\n
  assert.deepEqual(split(item), {
    trained: 'yo</>\nk</>\n',
    masked: '<system>be brief</>\n<user>hi</>\n<assistant><user>ok?</>\n<assistant>',
  });
  assert.equal(decode(item.ids), '<system>be brief</>\n<user>hi</>\n<assistant>yo</>\n<user>ok?</>\n<assistant>k</>\n');
});

test('chat: a template that rewrites earlier turns falls back to training on the last assistant turn', () => {
  // Like templates that drop earlier reasoning: an assistant turn that is not last renders as "...".
  const rewriting = (messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string =>
    chatml(
      messages.map((m, i) => (m.role === 'assistant' && i < messages.length - 1 ? { ...m, content: '...' } : m)),
      opts,
    );
  const messages: ChatMessage[] = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: 'b' },
    { role: 'user', content: 'c' },
    { role: 'assistant', content: 'd' },
  ];
  const [item] = tokenizeCausalLm([{ kind: 'chat', messages, line: 1 }], decoderLike(rewriting), 1000);
  assert.deepEqual(split(item), { trained: 'd</>\n', masked: '<user>a</>\n<assistant>...</>\n<user>c</>\n<assistant>' });
});

test('chat without a template is an error naming the file and line', () => {
  const example: CausalLmExample = { kind: 'chat', messages: [{ role: 'assistant', content: 'x' }], line: 9 };
  assert.throws(() => tokenizeCausalLm([example], decoderLike(), 8, { file: 'chat.jsonl' }), /^Error: chat\.jsonl line 9: chat examples need a tokenizer with a chat template/);
});

// Examples → token ids (and, for language modelling, per-token labels with -100 over the prompt).
// The tokenizer is any object with this structural shape, so this file imports no tokenizer library.
import { InputFileError } from '../io/input-error.js';
import { IGNORE_INDEX } from './batch.js';
import type { CausalLmExample, ChatMessage, ClassificationExample } from './examples.js';

/** The part of a tokenizer this module uses. */
export interface TokenEncoder {
  /** With a textPair, encodes the pair as the model expects ([CLS] a [SEP] b [SEP] for BERT). */
  encode(text: string, opts?: { addSpecialTokens?: boolean; textPair?: string }): number[];
  readonly padTokenId: number | undefined;
  /** Appended to text and completion examples so the model learns to stop; chat templates end turns themselves. */
  readonly eosTokenId?: number;
  /** Renders a conversation as text, like HF's apply_chat_template(tokenize=False). */
  applyChatTemplate?(messages: readonly ChatMessage[], opts: { addGenerationPrompt: boolean }): string;
}

export interface TokenizedClassification {
  readonly ids: number[];
  readonly label: number;
  readonly line: number;
  /** Segment ids for text pairs (BERT's token_type_ids): 0 through the first text's special tokens, then 1. */
  readonly typeIds?: number[];
}

/** Labels are aligned with ids (HF convention: the loss shifts them); -100 marks tokens not trained on. */
export interface TokenizedLm {
  readonly ids: number[];
  readonly labels: number[];
  readonly line: number;
}

function checkMaxLength(maxLength: number): void {
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`maxLength must be a positive integer, got ${maxLength}`);
}

/**
 * Encodes each example with special tokens and keeps the first `maxLength` tokens.
 *
 * @example
 *   tokenizeClassification(train, tokenizer, 128); // [{ ids: [101, 7592, 102], label: 1, line: 1 }, ...]
 */
export function tokenizeClassification(examples: readonly ClassificationExample[], tok: TokenEncoder, maxLength: number): TokenizedClassification[] {
  checkMaxLength(maxLength);
  return examples.map(({ text, textPair, label, line }) => {
    if (textPair === undefined) return { ids: tok.encode(text, { addSpecialTokens: true }).slice(0, maxLength), label, line };
    const ids = tok.encode(text, { addSpecialTokens: true, textPair }).slice(0, maxLength);
    // The first segment is what encoding the first text alone yields: [CLS] a [SEP] for BERT.
    const first = tok.encode(text, { addSpecialTokens: true }).length;
    return { ids, label, line, typeIds: ids.map((_, t) => (t < first ? 0 : 1)) };
  });
}

export interface CausalLmTokenizeOptions {
  /** The dataset file, for error messages. */
  readonly file?: string;
  /** Told about each example left out because truncation left it nothing to train on. */
  readonly onSkip?: (line: number, reason: string) => void;
}

/**
 * Encodes causal-LM examples: text examples are trained on every token; prompt/completion examples
 * only on the completion; chat examples only on assistant turns (each rendered by the chat template
 * from the assistant header's end through the end-of-turn marker). Text and completions get the EOS
 * token when the tokenizer has one. Sequences are cut to `maxLength`; an example left with nothing to
 * train on is left out and reported to `onSkip`.
 *
 * @example
 *   tokenizeCausalLm([{ kind: 'prompt', prompt: 'Q: 2+2?', completion: ' 4', line: 1 }], tok, 64);
 *   // [{ ids: [...prompt, ...completion, eos], labels: [-100, ..., ...completion, eos], line: 1 }]
 */
export function tokenizeCausalLm(
  examples: readonly CausalLmExample[],
  tok: TokenEncoder,
  maxLength: number,
  options: CausalLmTokenizeOptions = {},
): TokenizedLm[] {
  checkMaxLength(maxLength);
  const out: TokenizedLm[] = [];
  for (const example of examples) {
    const segments = lmSegments(example, tok, options.file ? `${options.file} line ${example.line}` : `line ${example.line}`);
    const ids: number[] = [];
    const labels: number[] = [];
    for (const { ids: part, trained } of segments) {
      ids.push(...part);
      labels.push(...(trained ? part : part.map(() => IGNORE_INDEX)));
    }
    ids.length = Math.min(ids.length, maxLength);
    labels.length = ids.length;
    // Position 0 is never predicted (nothing precedes it), so it does not count as trainable.
    if (labels.some((l, t) => t > 0 && l !== IGNORE_INDEX)) out.push({ ids, labels, line: example.line });
    else options.onSkip?.(example.line, ids.length === maxLength ? `the prompt fills all ${maxLength} tokens` : 'no tokens to train on');
  }
  return out;
}

interface Segment {
  readonly ids: number[];
  readonly trained: boolean;
}

function lmSegments(example: CausalLmExample, tok: TokenEncoder, where: string): Segment[] {
  const eos = tok.eosTokenId === undefined ? [] : [tok.eosTokenId];
  if (example.kind === 'text') return [{ ids: [...tok.encode(example.text, { addSpecialTokens: true }), ...eos], trained: true }];
  if (example.kind === 'prompt') {
    return [
      { ids: tok.encode(example.prompt, { addSpecialTokens: true }), trained: false },
      { ids: [...tok.encode(example.completion, { addSpecialTokens: false }), ...eos], trained: true },
    ];
  }
  // The template already holds BOS and turn markers, so no special tokens are added (as HF does).
  return chatTextSegments(example.messages, tok, where)
    .filter((s) => s.text !== '')
    .map((s) => ({ ids: tok.encode(s.text, { addSpecialTokens: false }), trained: s.trained }));
}

/**
 * Cuts a rendered conversation into text segments, marking assistant turns as trained. Turn i's
 * span runs from the end of render(messages[0..i), generation prompt) to the end of
 * render(messages[0..i]). Templates that rewrite earlier turns (so renders are not prefixes of one
 * another) fall back to training on everything after the last assistant turn's generation prompt.
 */
export function chatTextSegments(messages: readonly ChatMessage[], tok: TokenEncoder, where: string): { text: string; trained: boolean }[] {
  const template = tok.applyChatTemplate?.bind(tok);
  if (!template) throw new Error(`${where}: chat examples need a tokenizer with a chat template (applyChatTemplate)`);
  const render = (upTo: number, addGenerationPrompt: boolean): string | undefined => {
    try {
      return template(messages.slice(0, upTo), { addGenerationPrompt });
    } catch {
      return undefined; // e.g. a template that refuses an empty conversation
    }
  };
  let full: string;
  try {
    full = template(messages, { addGenerationPrompt: false });
  } catch (e) {
    if (e instanceof InputFileError) throw new InputFileError(e.file, `${where}: ${e.message}`); // no template: the model folder's
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  const segments: { text: string; trained: boolean }[] = [];
  let cursor = 0;
  let consistent = true;
  messages.forEach((m, i) => {
    if (m.role !== 'assistant' || !consistent) return;
    const before = render(i, true);
    const through = render(i + 1, false);
    if (before === undefined || through === undefined || before.length < cursor || !through.startsWith(before) || !full.startsWith(through)) {
      consistent = false;
      return;
    }
    segments.push({ text: full.slice(cursor, before.length), trained: false }, { text: full.slice(before.length, through.length), trained: true });
    cursor = through.length;
  });
  if (consistent) return [...segments, { text: full.slice(cursor), trained: false }];

  const last = messages.map((m) => m.role).lastIndexOf('assistant');
  const before = render(last, true);
  if (before === undefined || !full.startsWith(before)) {
    throw new Error(`${where}: the chat template does not render the conversation before the last assistant message as a prefix of the whole, so the prompt cannot be masked`);
  }
  return [
    { text: before, trained: false },
    { text: full.slice(before.length), trained: true },
  ];
}

// Truncation and padding of encoded rows into a rectangular batch. Pure array code so it can be
// checked against hand-worked cases; the Tokenizer decides the lengths and the pad id.

export type Side = 'left' | 'right';

/** One encoded sequence (or pair) before padding. */
export interface EncodedRow {
  readonly ids: number[];
  readonly typeIds: number[];
}

export interface PaddedBatch {
  /** [B, T] token ids, int32 values. */
  inputIds: number[][];
  /** [B, T] 1 for real tokens, 0 for padding. */
  attentionMask: number[][];
  /** [B, T] 0 for the first text, 1 for the pair (BERT's token_type_ids); padding is 0. */
  tokenTypeIds: number[][];
  /** Real (unpadded) length of each row. */
  lengths: number[];
}

/** Keeps `budget` items, dropping from `side`. */
export function truncateOne<T>(items: readonly T[], budget: number, side: Side): T[] {
  if (items.length <= budget) return items.slice();
  return side === 'right' ? items.slice(0, budget) : items.slice(items.length - budget);
}

/**
 * Hugging Face tokenizers' `longest_first` for a pair (Rust `truncate_encodings`): the shorter
 * sequence is kept whole when it fits in the budget and the longer one gets the rest; when neither
 * fits, each gets half and the second gets the odd token.
 */
export function truncatePair<T>(a: readonly T[], b: readonly T[], budget: number, side: Side): [T[], T[]] {
  if (a.length + b.length <= budget) return [a.slice(), b.slice()];
  const swap = a.length > b.length;
  let n1 = swap ? b.length : a.length; // the shorter
  let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  const [na, nb] = swap ? [n2, n1] : [n1, n2];
  return [truncateOne(a, na, side), truncateOne(b, nb, side)];
}

/** The smallest multiple of `multiple` that is at least `n`. */
export function roundUpToMultiple(n: number, multiple: number | undefined): number {
  return multiple ? Math.ceil(n / multiple) * multiple : n;
}

/**
 * Pads every row to `target` tokens on `side` with `padId` (no padding when `target` is undefined).
 * Rows must not be longer than `target`; the caller truncates first.
 */
export function padBatch(rows: readonly EncodedRow[], target: number | undefined, padId: number | undefined, side: Side): PaddedBatch {
  const batch: PaddedBatch = { inputIds: [], attentionMask: [], tokenTypeIds: [], lengths: [] };
  for (const row of rows) {
    const n = target === undefined ? 0 : target - row.ids.length;
    if (n < 0) throw new Error(`padBatch: a row of ${row.ids.length} tokens is longer than the target length ${target}`);
    if (n > 0 && padId === undefined) throw new Error('padBatch: padding needed but no pad token id given');
    const pad = <T>(values: T[], fill: T): T[] => {
      const filler = new Array<T>(n).fill(fill);
      return side === 'right' ? [...values, ...filler] : [...filler, ...values];
    };
    batch.inputIds.push(pad(row.ids, padId ?? 0));
    batch.attentionMask.push(pad(new Array<number>(row.ids.length).fill(1), 0));
    batch.tokenTypeIds.push(pad(row.typeIds, 0));
    batch.lengths.push(row.ids.length);
  }
  return batch;
}

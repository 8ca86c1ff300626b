// Batches: which examples go together (seeded, length-bucketed, resumable mid-epoch) and how a batch
// of token sequences is padded into rectangles. Token ids stay plain numbers here; the trainer turns
// them into int32 tensors.
import { Rng } from '../math/rng.js';

/** Where the trainer is in the data: epoch `epoch`, about to run batch `batchIndex` of it. */
export interface DataPosition {
  readonly epoch: number;
  readonly batchIndex: number;
}

/** Anything with token ids; only the length matters for batching. */
export interface Sequence {
  readonly ids: ArrayLike<number>;
}

export interface BatchOptions {
  readonly batchSize: number;
  readonly seed: number;
  readonly epoch: number;
  /** Sort by length within chunks of `bucketChunk` batches so a batch holds similar lengths. Default true. */
  readonly bucket?: boolean;
  /** Batches per sorting chunk; 50 keeps batches of similar length while the order stays random. */
  readonly bucketChunk?: number;
  /** Leave out a final batch smaller than batchSize. Default false. */
  readonly dropLast?: boolean;
}

/** Mixes a seed with a stream number (epoch, purpose) so nearby pairs give unrelated streams. */
export function mixSeed(seed: number, stream: number): number {
  return fmix32((seed >>> 0) ^ fmix32((stream + 0x9e3779b9) >>> 0));
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkBatchOptions(count: number, o: BatchOptions): void {
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new Error(`makeBatches: batchSize must be a positive integer, got ${o.batchSize}`);
  if (!Number.isInteger(o.seed)) throw new Error(`makeBatches: seed must be an integer, got ${o.seed}`);
  if (!Number.isInteger(o.epoch) || o.epoch < 0) throw new Error(`makeBatches: epoch must be a non-negative integer, got ${o.epoch}`);
  const chunk = o.bucketChunk ?? 50;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`makeBatches: bucketChunk must be a positive integer, got ${o.bucketChunk}`);
  if (count === 0) throw new Error('makeBatches: no examples to batch');
}

/**
 * The batches of one epoch, as arrays of item indices; a pure function of (items' lengths, options).
 * Shuffle with an RNG seeded by (seed, epoch); with `bucket`, sort each chunk of 50 batches' worth
 * by length and cut it into batches; finally shuffle the batch order so lengths do not trend.
 * Resuming at a DataPosition is `makeBatches(...).slice(position.batchIndex)`.
 *
 * @example
 *   const batches = makeBatches(items, { batchSize: 8, seed: 42, epoch: 0 });
 *   for (const batch of batches) padBatch(batch.map((i) => items[i]), padId);
 */
export function makeBatches(items: readonly Sequence[], options: BatchOptions): number[][] {
  checkBatchOptions(items.length, options);
  const { batchSize, bucket = true, dropLast = false } = options;
  const rng = new Rng(mixSeed(options.seed, options.epoch));
  const order = rng.shuffle(Array.from({ length: items.length }, (_, i) => i));
  if (bucket) {
    const chunk = batchSize * (options.bucketChunk ?? 50);
    for (let start = 0; start < order.length; start += chunk) {
      // Array.prototype.sort is stable, so equal lengths keep their shuffled order.
      const sorted = order.slice(start, start + chunk).sort((a, b) => items[a].ids.length - items[b].ids.length);
      sorted.forEach((index, k) => (order[start + k] = index));
    }
  }
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    if (batch.length === batchSize || !dropLast) batches.push(batch);
  }
  return bucket ? rng.shuffle(batches) : batches;
}

/** The batches still to run from `position` on (the rest of that epoch). */
export function batchesFrom(items: readonly Sequence[], options: Omit<BatchOptions, 'epoch'>, position: DataPosition): number[][] {
  const batches = makeBatches(items, { ...options, epoch: position.epoch });
  if (!Number.isInteger(position.batchIndex) || position.batchIndex < 0 || position.batchIndex > batches.length) {
    throw new Error(`DataPosition.batchIndex must be an integer in [0, ${batches.length}] for epoch ${position.epoch}, got ${position.batchIndex}`);
  }
  return batches.slice(position.batchIndex);
}

/** The position after finishing one batch at `position`, rolling over to the next epoch. */
export function nextPosition(position: DataPosition, batchesPerEpoch: number): DataPosition {
  const batchIndex = position.batchIndex + 1;
  return batchIndex >= batchesPerEpoch ? { epoch: position.epoch + 1, batchIndex: 0 } : { epoch: position.epoch, batchIndex };
}

/** A sequence to pad: ids and, for language modelling, per-token labels (-100 = not trained on). */
export interface PaddableSequence {
  readonly ids: readonly number[];
  readonly labels?: readonly number[];
  readonly typeIds?: readonly number[]; // BERT token_type_ids for text pairs
}

export interface PaddedBatch {
  readonly ids: number[][]; // [B, T] token ids (int32 when made a tensor)
  readonly attentionMask: number[][]; // [B, T] 1 = real token, 0 = padding
  readonly labels?: number[][]; // [B, T] padded with IGNORE_INDEX
  readonly typeIds?: number[][]; // [B, T] padded with 0
}

/** Label value that the loss ignores (PyTorch's CrossEntropyLoss ignore_index). */
export const IGNORE_INDEX = -100;

export interface PadOptions {
  readonly side?: 'right' | 'left'; // default 'right'; 'left' for batched generation with decoder models
  readonly padToMultipleOf?: number;
}

/**
 * Pads sequences to one length T (the longest, rounded up to `padToMultipleOf`): ids with `padId`,
 * labels with -100, attention mask 0 over padding.
 *
 * @example
 *   padBatch([{ ids: [5, 6, 7] }, { ids: [8] }], 0).ids; // [[5, 6, 7], [8, 0, 0]]
 */
export function padBatch(items: readonly PaddableSequence[], padId: number, options: PadOptions = {}): PaddedBatch {
  const { side = 'right', padToMultipleOf = 1 } = options;
  if (items.length === 0) throw new Error('padBatch: the batch is empty');
  if (!Number.isInteger(padId)) throw new Error(`padBatch: padId must be an integer token id, got ${padId} (a tokenizer without a pad token can pad with its EOS id)`);
  if (side !== 'right' && side !== 'left') throw new Error(`padBatch: side must be "right" or "left", got ${JSON.stringify(side)}`);
  if (!Number.isInteger(padToMultipleOf) || padToMultipleOf < 1) throw new Error(`padBatch: padToMultipleOf must be a positive integer, got ${padToMultipleOf}`);
  const withLabels = items[0].labels !== undefined;
  const withTypes = items.some((item) => item.typeIds !== undefined);
  items.forEach((item, b) => {
    if ((item.labels !== undefined) !== withLabels) throw new Error(`padBatch: item ${b} ${withLabels ? 'lacks' : 'has'} labels but item 0 ${withLabels ? 'has' : 'does not'}`);
    if (item.labels && item.labels.length !== item.ids.length) throw new Error(`padBatch: item ${b} has ${item.ids.length} ids but ${item.labels.length} labels`);
    if (item.typeIds && item.typeIds.length !== item.ids.length) throw new Error(`padBatch: item ${b} has ${item.ids.length} ids but ${item.typeIds.length} typeIds`);
  });
  const longest = Math.max(...items.map((item) => item.ids.length));
  const width = Math.ceil(longest / padToMultipleOf) * padToMultipleOf;
  const pad = <T>(values: readonly T[], fill: T): T[] => {
    const filler = new Array<T>(width - values.length).fill(fill);
    return side === 'right' ? [...values, ...filler] : [...filler, ...values];
  };
  return {
    ids: items.map((item) => pad(item.ids, padId)),
    attentionMask: items.map((item) => pad(new Array<number>(item.ids.length).fill(1), 0)),
    ...(withLabels ? { labels: items.map((item) => pad(item.labels as readonly number[], IGNORE_INDEX)) } : {}),
    ...(withTypes ? { typeIds: items.map((item) => pad(item.typeIds ?? new Array<number>(item.ids.length).fill(0), 0)) } : {}),
  };
}

/**
 * Fraction of the token slots in `batches` that would be padding, for logs: 1 − real / (Σ_b B_b · T_b)
 * where T_b is batch b's longest sequence rounded up to `padToMultipleOf`.
 */
export function paddingWaste(items: readonly Sequence[], batches: readonly (readonly number[])[], padToMultipleOf = 1): number {
  let real = 0;
  let slots = 0;
  for (const batch of batches) {
    let longest = 0;
    for (const i of batch) {
      const n = items[i].ids.length;
      real += n;
      longest = Math.max(longest, n);
    }
    slots += batch.length * Math.ceil(longest / padToMultipleOf) * padToMultipleOf;
  }
  return slots === 0 ? 0 : 1 - real / slots;
}

// Batches of a run: tokenized examples → padded host arrays, the seeded resumable stream of them,
// and the loss (or logits) of one as the model's task computes it. Tensors are made only inside
// `batchLoss` / `batchLogits`, so callers' tf.tidy disposes them. No file system: the browser uses it.
import { tf } from '../engine/tf.js';
import type { AnyModel } from '../models/types.js';
import { IGNORE_INDEX, makeBatches, nextPosition, padBatch, type DataPosition } from './batch.js';
import type { TokenizedClassification, TokenizedLm } from './tokenize.js';

/** One tokenized example: per-token labels (causal LM) or a class index (classification). */
export type RunExample = TokenizedClassification | TokenizedLm;

/** A padded batch as host arrays, plus what it costs to train on. */
export interface HostBatch {
  readonly ids: number[][]; // [B, T]
  readonly mask: number[][]; // [B, T]
  readonly tokenLabels?: number[][]; // [B, T], causal LM
  readonly classLabels?: number[]; // [B], classification
  readonly typeIds?: number[][]; // [B, T], BERT text pairs
  /** Real (unpadded) tokens. */
  readonly tokens: number;
  /** Tokens the causal-LM loss averages over (labels[:, 1:] ≠ -100), or B for classification. */
  readonly lossWeight: number;
}

export function hostBatch(items: readonly RunExample[], padId: number): HostBatch {
  const padded = padBatch(items, padId);
  const tokens = items.reduce((n, e) => n + e.ids.length, 0);
  if ('label' in items[0]) {
    const classLabels = (items as TokenizedClassification[]).map((e) => e.label);
    return { ids: padded.ids, mask: padded.attentionMask, typeIds: padded.typeIds, classLabels, tokens, lossWeight: items.length };
  }
  const tokenLabels = padded.labels!;
  const lossWeight = tokenLabels.reduce((n, row) => n + row.slice(1).filter((l) => l !== IGNORE_INDEX).length, 0);
  return { ids: padded.ids, mask: padded.attentionMask, tokenLabels, tokens, lossWeight };
}

const int2d = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');

/** The model's mean loss on a batch (tensors made here; run it inside tf.tidy). */
export function batchLoss(model: AnyModel, b: HostBatch, training: boolean): tf.Scalar {
  if (model.task === 'causal-lm') return model.loss(int2d(b.ids), int2d(b.tokenLabels!), int2d(b.mask), { training });
  const typeIds = b.typeIds && int2d(b.typeIds);
  return model.loss(int2d(b.ids), int2d(b.mask), tf.tensor1d(b.classLabels!, 'int32'), { tokenTypeIds: typeIds, training });
}

/** Classification logits [B, numLabels] of a batch (inside tf.tidy). */
export function batchLogits(model: AnyModel, b: HostBatch): tf.Tensor2D {
  if (model.task !== 'sequence-classification') throw new Error('batchLogits needs a classification model');
  return model.classify(int2d(b.ids), int2d(b.mask), { tokenTypeIds: b.typeIds && int2d(b.typeIds) });
}

/**
 * The training batches in order, epoch after epoch, from a resumable position: the batches of an
 * epoch are a pure function of (seed, epoch), so a position is all a checkpoint needs.
 */
export class BatchStream {
  private batches: number[][];
  private pos: DataPosition;

  constructor(
    private readonly items: readonly RunExample[],
    private readonly opts: { batchSize: number; seed: number; padId: number },
    start: DataPosition,
  ) {
    this.pos = start;
    this.batches = this.epochBatches(start.epoch);
    if (!(Number.isInteger(start.batchIndex) && start.batchIndex >= 0 && start.batchIndex < this.batches.length)) {
      throw new Error(`data position batch ${start.batchIndex} is outside epoch ${start.epoch}'s ${this.batches.length} batches`);
    }
  }

  private epochBatches(epoch: number): number[][] {
    return makeBatches(this.items, { batchSize: this.opts.batchSize, seed: this.opts.seed, epoch });
  }

  /** The next micro-batch to run. */
  get position(): DataPosition {
    return this.pos;
  }

  get batchesPerEpoch(): number {
    return this.batches.length;
  }

  /** The next micro-batch, without moving past it. */
  peek(): HostBatch {
    return hostBatch(this.batches[this.pos.batchIndex].map((i) => this.items[i]), this.opts.padId);
  }

  next(): HostBatch {
    const batch = this.batches[this.pos.batchIndex];
    const next = nextPosition(this.pos, this.batches.length);
    if (next.epoch !== this.pos.epoch) this.batches = this.epochBatches(next.epoch);
    this.pos = next;
    return hostBatch(batch.map((i) => this.items[i]), this.opts.padId);
  }
}

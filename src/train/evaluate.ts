// Evaluation of a model on tokenized examples: loss and accuracy / macro-F1 / MCC for
// classification, loss and perplexity (per predicted token) for causal LM.
import { tf } from '../engine/tf.js';
import { setTraining } from '../adapters/inject.js';
import type { AnyModel } from '../models/types.js';
import { makeBatches } from '../data/batch.js';
import { argmaxRows, classificationMetrics, meanLoss, perplexity } from './metrics.js';
import { batchLogits, batchLoss, hostBatch, type HostBatch, type RunExample } from '../data/batches.js';

export interface EvalMetrics {
  readonly loss: number;
  readonly accuracy?: number;
  readonly macroF1?: number;
  readonly mcc?: number;
  readonly perplexity?: number;
  /** Examples evaluated. */
  readonly examples: number;
}

/** Length-sorted batches in a fixed order (the order does not change the metrics, the padding it saves). */
export function evalBatches(items: readonly RunExample[], batchSize: number, padId: number): HostBatch[] {
  return makeBatches(items, { batchSize, seed: 0, epoch: 0 }).map((batch) => hostBatch(batch.map((i) => items[i]), padId));
}

/**
 * Metrics of `model` on `items`, dropout off. Losses are averaged per example (classification) or
 * per predicted token (causal LM), whatever the batch sizes.
 *
 * @example
 *   const m = await evaluate(model, data.eval, 16, tok.padTokenId!); // { loss, accuracy, macroF1, mcc, examples }
 */
export async function evaluate(model: AnyModel, items: readonly RunExample[], batchSize: number, padId: number): Promise<EvalMetrics> {
  if (items.length === 0) throw new Error('evaluate: no examples');
  setTraining(model, false);
  const losses: number[] = [];
  const weights: number[] = [];
  const truth: number[] = [];
  const predicted: number[] = [];
  for (const b of evalBatches(items, batchSize, padId)) {
    if (b.lossWeight === 0) continue; // nothing predicted in this batch
    const [loss, logits] = tf.tidy(() => (model.task === 'causal-lm' ? [batchLoss(model, b, false)] : [batchLoss(model, b, false), batchLogits(model, b)]));
    losses.push((await loss.data())[0]);
    weights.push(b.lossWeight);
    if (logits) {
      predicted.push(...argmaxRows(await logits.data(), logits.shape[1]!));
      truth.push(...b.classLabels!);
    }
    tf.dispose([loss, logits]);
  }
  const loss = meanLoss(losses, weights);
  if (model.task === 'causal-lm') return { loss, perplexity: Number.isFinite(loss) ? perplexity(loss) : Number.NaN, examples: items.length };
  return { loss, ...classificationMetrics(truth, predicted), examples: items.length };
}

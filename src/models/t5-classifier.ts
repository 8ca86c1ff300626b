// Classification as text-to-text, as T5 (and the LoRA-Pro paper's T5 runs on GLUE) does it: the model
// learns to generate the label's word. It is a SequenceClassifier, so the trainer, evaluation and
// compare work unchanged: `loss` is the seq2seq loss of the gold label's target tokens, and `classify`
// ranks the labels by the log-likelihood the decoder gives each target (rank classification), which
// is the argmax of what greedy decoding would emit among the labels. The module tree is
// T5ForConditionalGeneration's, so checkpoints and adapters are the ordinary T5 ones.
import { tf } from '../engine/tf.js';
import type { T5Config } from '../io/hf-config.js';
import { checkIds } from './decoder.js';
import { IGNORE_INDEX } from './heads.js';
import { T5Base, shiftRight } from './t5.js';
import { isTextToText, type ClassifyOptions, type ModelOptions, type PretrainedModel, type TextToTextClassifier } from './types.js';

/** What labelTargets needs of a tokenizer. */
export interface LabelEncoder {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
}

/**
 * Each label's target: its name's tokens without special tokens, then EOS (T5 targets end in </s>).
 *
 * @example
 *   model.setLabelTargets(labelTargets(['negative', 'positive'], tokenizer, 1));
 */
export function labelTargets(labels: readonly string[], tok: LabelEncoder, eosTokenId: number): number[][] {
  return labels.map((label) => {
    const ids = tok.encode(label, { addSpecialTokens: false });
    return ids[ids.length - 1] === eosTokenId ? ids : [...ids, eosTokenId];
  });
}

export class T5ForTextToTextClassification extends T5Base implements TextToTextClassifier {
  readonly task = 'sequence-classification' as const;
  readonly textToText = true as const;
  readonly numLabels: number;
  private targets: number[][] | undefined;

  constructor(config: T5Config, opts: ModelOptions = {}) {
    super(config, opts);
    this.numLabels = opts.numLabels ?? config.numLabels;
  }

  get labelTargets(): readonly (readonly number[])[] | undefined {
    return this.targets;
  }

  setLabelTargets(targets: readonly (readonly number[])[]): void {
    const V = this.config.vocabSize;
    if (targets.length !== this.numLabels) throw new Error(`T5 text-to-text classifier: ${targets.length} label targets for ${this.numLabels} labels`);
    targets.forEach((t, i) => {
      if (t.length === 0) throw new Error(`T5 text-to-text classifier: label ${i}'s target is empty`);
      const bad = t.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
      if (bad !== undefined) throw new Error(`T5 text-to-text classifier: label ${i}'s target has token id ${bad}, outside the vocabulary [0, ${V})`);
    });
    const seen = new Map<string, number>();
    targets.forEach((t, i) => {
      const key = t.join(',');
      if (seen.has(key)) throw new Error(`T5 text-to-text classifier: labels ${seen.get(key)} and ${i} have the same target tokens [${t.join(', ')}]; the tokenizer cannot tell them apart (words it does not know all become <unk>)`);
      seen.set(key, i);
    });
    this.targets = targets.map((t) => [...t]);
  }

  /** Targets as labels int32 [K, L], padded with -100. */
  private targetMatrix(): tf.Tensor2D {
    if (!this.targets) throw new Error('T5 text-to-text classifier: no label targets; call setLabelTargets(labelTargets(labels, tokenizer, eos)) first');
    const L = Math.max(...this.targets.map((t) => t.length));
    const rows = this.targets.map((t) => [...t, ...new Array<number>(L - t.length).fill(IGNORE_INDEX)]);
    return tf.tensor2d(rows, [rows.length, L], 'int32');
  }

  /** Log-likelihood of every label's target: [B, numLabels] (sums of the targets' token log-probabilities). */
  classify(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ClassifyOptions = {}): tf.Tensor2D {
    checkIds(ids, attentionMask);
    return tf.tidy(() => {
      const [B, S] = ids.shape;
      const K = this.numLabels;
      const targets = this.targetMatrix(); // [K, L]
      const L = targets.shape[1];
      const enc = this.encode(ids, attentionMask, opts); // [B, S, d]
      const d = enc.shape[2];
      // row b·K + k pairs example b with label k
      const encRep = tf.reshape(tf.tile(tf.expandDims(enc, 1), [1, K, 1, 1]), [B * K, S, d]) as tf.Tensor3D;
      const maskRep = tf.reshape(tf.tile(tf.expandDims(tf.cast(attentionMask, 'int32'), 1), [1, K, 1]), [B * K, S]) as tf.Tensor2D;
      const labels = tf.reshape(tf.tile(tf.expandDims(targets, 0), [B, 1, 1]), [B * K, L]) as tf.Tensor2D; // [B·K, L]
      const decoderIds = shiftRight(labels, this.config.decoderStartTokenId, this.config.padTokenId); // teacher forcing, as seq2seqLoss
      const logits = this.decodeLogits(decoderIds, encRep, { encoderAttentionMask: maskRep, training: opts.training }); // [B·K, L, V]
      const V = logits.shape[2];
      const logp = tf.logSoftmax(tf.reshape(logits, [B * K * L, V])); // [B·K·L, V]
      const flat = tf.reshape(labels, [B * K * L]);
      const keep = tf.notEqual(flat, IGNORE_INDEX);
      const safe = tf.where(keep, flat, tf.zerosLike(flat));
      const idx = tf.add(tf.mul(tf.range(0, B * K * L, 1, 'int32'), tf.scalar(V, 'int32')), safe);
      const picked = tf.mul(tf.gather(tf.reshape(logp, [-1]), idx), tf.cast(keep, 'float32')); // [B·K·L]
      return tf.reshape(tf.sum(tf.reshape(picked, [B * K, L]), 1), [B, K]) as tf.Tensor2D;
    });
  }

  /** Seq2seq cross-entropy of each example's gold label target, averaged over the batch's target tokens. labels: int32 [B]. */
  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, labels: tf.Tensor1D, opts: ClassifyOptions = {}): tf.Scalar {
    checkIds(ids, attentionMask);
    return tf.tidy(() => {
      const gold = tf.gather(this.targetMatrix(), tf.cast(labels, 'int32')) as tf.Tensor2D; // [B, L]
      return this.seq2seqLoss(ids, attentionMask, gold, opts);
    });
  }
}

/**
 * Gives a text-to-text classifier its label targets from the label names (a no-op for any other
 * model), as the trainer does once the data's labels are known.
 */
export function setTextToTextLabels(model: PretrainedModel, labels: readonly string[] | undefined, tok: LabelEncoder & { readonly eosTokenId?: number }): void {
  if (!isTextToText(model)) return;
  if (labels === undefined) throw new Error('a T5 text-to-text classifier needs the label names to build its targets');
  const eos = tok.eosTokenId ?? firstId(model.config.eosTokenId);
  if (eos === undefined) throw new Error('a T5 text-to-text classifier needs an EOS token to end its label targets; the tokenizer and config.json have none');
  model.setLabelTargets(labelTargets(labels, tok, eos));
}

function firstId(ids: number | readonly number[] | undefined): number | undefined {
  return typeof ids === 'number' ? ids : ids?.[0];
}

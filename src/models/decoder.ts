// What GPT-2 and the Llama family share above their transformer stacks: the causal-LM head and
// loss, and Hugging Face's *ForSequenceClassification (score the last real token of each row).
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../io/hf-config.js';
import { Rng } from '../math/rng.js';
import type { KVCache } from './kv-cache.js';
import { asLinear, noDropout, seededDropout, type Dropout } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';
import { causalLmLoss, classificationLoss, gatherRows, lastTokenIndex } from './heads.js';
import type { CausalLM, ClassifyOptions, LogitsOptions, ModelOptions, SequenceClassifier } from './types.js';

/** Per-forward state handed down the layers. */
export interface ForwardContext {
  /** Additive attention bias [B or 1, 1, T, S], or undefined when nothing is masked. */
  bias: tf.Tensor4D | undefined;
  cache: KVCache | undefined;
  dropout: DropoutSettings;
}

/** A decoder stack: ids [B, T] → final (normed) hidden states [B, T, d]. */
export interface DecoderBackbone extends Module {
  readonly numLayers: number;
  readonly maxPositions: number;
  forward(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, cache: KVCache | undefined, dropout: DropoutSettings): tf.Tensor3D;
}

/** This forward's dropout: `drop(x, rate)` and the rates to use (all 0 outside training). */
export interface DropoutSettings {
  drop: Dropout;
  hidden: number;
  attention: number;
}

/** Dropout state a model keeps: rates from options, masks from a seeded stream. */
export class DropoutSource {
  private readonly rng: Rng;
  private readonly hidden: number;
  private readonly attention: number;

  constructor(opts: ModelOptions) {
    this.rng = new Rng(opts.dropoutSeed ?? 0);
    this.hidden = opts.dropout?.hidden ?? 0;
    this.attention = opts.dropout?.attention ?? 0;
  }

  settings(training: boolean | undefined): DropoutSettings {
    return training ? { drop: seededDropout(this.rng), hidden: this.hidden, attention: this.attention } : { drop: noDropout, hidden: 0, attention: 0 };
  }
}

/** Checks ids (and mask) are int32 [B, T] before they reach a gather. */
export function checkIds(ids: tf.Tensor, attentionMask?: tf.Tensor): void {
  if (ids.rank !== 2 || ids.dtype !== 'int32') throw new Error(`ids must be int32 [B, T], got ${ids.dtype} [${ids.shape}]`);
  if (attentionMask !== undefined && (attentionMask.rank !== 2 || attentionMask.shape[0] !== ids.shape[0])) {
    throw new Error(`attentionMask must be [B, S] with B = ${ids.shape[0]}, got [${attentionMask.shape}]`);
  }
}

/**
 * Root of a decoder causal LM: `base` (named `basePrefix`) and, unless the embeddings are tied,
 * `lm_head`. Tied models project with the input embedding matrix and have no lm_head parameter.
 */
export abstract class DecoderCausalLM<B extends DecoderBackbone> extends Module implements CausalLM {
  readonly task = 'causal-lm' as const;
  readonly headPrefixes = ['lm_head.'];
  abstract readonly config: ModelConfig;
  abstract readonly architecture: string;
  protected lmHead: LinearLike | undefined;

  protected constructor(
    readonly basePrefix: string,
    protected readonly base: B,
    lmHead: LinearLike | undefined,
    private readonly dropout: DropoutSource,
  ) {
    super();
    this.child(basePrefix, base);
    if (lmHead) this.lmHead = this.child('lm_head', lmHead);
  }

  get numLayers(): number {
    return this.base.numLayers;
  }

  get maxPositions(): number {
    return this.base.maxPositions;
  }

  /** The tied output matrix [V, d] (the input embeddings). */
  protected abstract tiedWeight(): tf.Tensor2D;

  /** h [N, d] → h·Eᵀ [N, V] with the tied matrix (a model whose embeddings are frozen outside the heap overrides it). */
  protected tiedLogits(h: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(h, this.tiedWeight(), false, true);
  }

  logits(ids: tf.Tensor2D, opts: LogitsOptions = {}): tf.Tensor3D {
    checkIds(ids, opts.attentionMask);
    return tf.tidy(() => {
      const h = this.base.forward(ids, opts.attentionMask, opts.cache, this.dropout.settings(opts.training)); // [B, T, d]
      if (this.lmHead) return this.lmHead.forward(h) as tf.Tensor3D; // [B, T, V]
      const [B, T, d] = h.shape;
      const logits = this.tiedLogits(tf.reshape(h, [B * T, d]) as tf.Tensor2D); // [B·T, V]
      return tf.reshape(logits, [B, T, logits.shape[1]]) as tf.Tensor3D;
    });
  }

  loss(ids: tf.Tensor2D, labels: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Scalar {
    return tf.tidy(() => causalLmLoss(this.logits(ids, { attentionMask, training: opts.training }), labels));
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'lm_head') this.lmHead = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

/** Root of a decoder classifier: `base` and `score` (no bias), applied to the last real token. */
export abstract class DecoderClassifier<B extends DecoderBackbone> extends Module implements SequenceClassifier {
  readonly task = 'sequence-classification' as const;
  readonly headPrefixes = ['score.'];
  abstract readonly config: ModelConfig;
  abstract readonly architecture: string;
  protected score: LinearLike;

  protected constructor(
    readonly basePrefix: string,
    protected readonly base: B,
    score: LinearLike,
    private readonly dropout: DropoutSource,
  ) {
    super();
    this.child(basePrefix, base);
    this.score = this.child('score', score);
  }

  get numLabels(): number {
    return this.score.outFeatures;
  }

  classify(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ClassifyOptions = {}): tf.Tensor2D {
    checkIds(ids, attentionMask);
    return tf.tidy(() => {
      const h = this.base.forward(ids, attentionMask, undefined, this.dropout.settings(opts.training)); // [B, T, d]
      const last = gatherRows(h, lastTokenIndex(attentionMask)); // [B, d]
      return this.score.forward(last) as tf.Tensor2D; // [B, numLabels]
    });
  }

  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, labels: tf.Tensor1D, opts: ClassifyOptions = {}): tf.Scalar {
    return tf.tidy(() => classificationLoss(this.classify(ids, attentionMask, opts), labels));
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'score') this.score = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

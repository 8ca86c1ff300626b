// What GPT-2 and the Llama family share above their transformer stacks: the causal-LM head and
// loss, and Hugging Face's *ForSequenceClassification (score the last real token of each row).
import { checkpoint } from '../engine/checkpoint.js';
import { tf } from '../engine/tf.js';
import type { ModelConfig } from '../io/hf-config.js';
import { Rng } from '../math/rng.js';
import type { KVCache } from './kv-cache.js';
import { asLinear, noDropout, seededDropout, type Dropout } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';
import { causalLmLoss, chunkedCausalLmLoss, classificationLoss, gatherRows, lastTokenIndex, type FrozenHead } from './heads.js';
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
  /** Recompute each block's activations in the backward pass instead of keeping them (see runBlocks). */
  gradientCheckpointing: boolean;
  forward(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, cache: KVCache | undefined, dropout: DropoutSettings): tf.Tensor3D;
}

/** This forward's dropout: `drop(x, rate)` and the rates to use (all 0 outside training). */
export interface DropoutSettings {
  drop: Dropout;
  hidden: number;
  attention: number;
  /** Settings that drop, from now on, the units this one will drop next (a checkpointed block's recomputation). */
  replay(): DropoutSettings;
}

const NO_DROPOUT: DropoutSettings = { drop: noDropout, hidden: 0, attention: 0, replay: () => NO_DROPOUT };

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
    return training ? this.seeded(this.rng) : NO_DROPOUT;
  }

  private seeded(rng: Rng): DropoutSettings {
    return { drop: seededDropout(rng), hidden: this.hidden, attention: this.attention, replay: () => this.seeded(rng.clone()) };
  }
}

/** A transformer block: [B, T, d] → [B, T, d] under this forward's context. */
export interface Block<C extends ForwardContext> extends Module {
  forward(x: tf.Tensor3D, ctx: C): tf.Tensor3D;
}

/**
 * x through `blocks` in order. With `checkpointing`, while a gradient tape records and without a KV
 * cache, each block keeps only its input for the backward pass, which runs the block again
 * (engine/checkpoint.ts): one block's activations live at a time instead of every block's. The
 * recomputation replays the dropout masks of the first run, so the gradients are the same.
 */
export function runBlocks<C extends ForwardContext>(blocks: readonly Block<C>[], x: tf.Tensor3D, ctx: C, checkpointing: boolean): tf.Tensor3D {
  if (!checkpointing || ctx.cache !== undefined) {
    for (const block of blocks) x = block.forward(x, ctx);
    return x;
  }
  // the context's tensors (attention bias, rotary tables) are kept for the recomputation with the input
  const keys = Object.keys(ctx).filter((k) => ctx[k as keyof C] instanceof tf.Tensor) as (keyof C)[];
  const consts = keys.map((k) => ctx[k] as unknown as tf.Tensor);
  for (const block of blocks) {
    const params = [...block.trainableParameters().values()];
    const masks = ctx.dropout.replay(); // the dropout state before the block's first run
    const rngs = moduleRngs(block); // LoRA dropout's generators, rewound for the recomputation
    const states = rngs.map((r) => r.state);
    let first = true;
    const run = (h: tf.Tensor3D, kept: tf.Tensor[]): tf.Tensor3D => {
      const again: C = { ...ctx, dropout: first ? ctx.dropout : masks.replay() };
      keys.forEach((k, i) => (again[k] = kept[i] as C[keyof C]));
      if (first) {
        first = false;
        return block.forward(h, again);
      }
      const now = rngs.map((r) => r.state);
      rngs.forEach((r, i) => (r.state = states[i]));
      try {
        return block.forward(h, again);
      } finally {
        rngs.forEach((r, i) => (r.state = now[i]));
      }
    };
    x = checkpoint(run, x, consts, params);
  }
  return x;
}

/**
 * Switches gradient checkpointing on or off for a decoder (GPT-2, Llama, Qwen2, Mistral); other
 * models throw, naming their architecture.
 */
export function setGradientCheckpointing(model: Module & { readonly architecture?: string }, on: boolean): void {
  if (!(model instanceof DecoderCausalLM || model instanceof DecoderClassifier)) {
    throw new Error(`gradient checkpointing is implemented for the decoders (GPT-2, Llama, Qwen2, Mistral), not ${model.architecture ?? model.constructor.name}`);
  }
  model.gradientCheckpointing = on;
}

/** The random generators modules below `root` draw dropout masks from (a LoRA layer's `rng`). */
function moduleRngs(root: Module): Rng[] {
  const found = new Set<Rng>();
  for (const m of root.namedModules().values()) {
    const rng = (m as { rng?: unknown }).rng;
    if (rng instanceof Rng) found.add(rng);
  }
  return [...found];
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

  /** Recompute each block's activations in the backward pass instead of keeping them (Hugging Face's gradient_checkpointing_enable). */
  get gradientCheckpointing(): boolean {
    return this.base.gradientCheckpointing;
  }

  set gradientCheckpointing(on: boolean) {
    this.base.gradientCheckpointing = on;
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

  /** The output layer when it is frozen outside the heap (models/frozen-linear.ts), for a loss that never holds all the logits. */
  protected frozenOutput(): FrozenHead | undefined {
    return undefined;
  }

  loss(ids: tf.Tensor2D, labels: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Scalar {
    const head = this.frozenOutput();
    if (head === undefined) return tf.tidy(() => causalLmLoss(this.logits(ids, { attentionMask, training: opts.training }), labels));
    checkIds(ids, attentionMask);
    return tf.tidy(() => {
      const h = this.base.forward(ids, attentionMask, undefined, this.dropout.settings(opts.training)) as tf.Tensor3D; // [B, T, d]
      return chunkedCausalLmLoss(h, labels, head); // the [B·T, V] logits never whole
    });
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

  /** Recompute each block's activations in the backward pass instead of keeping them. */
  get gradientCheckpointing(): boolean {
    return this.base.gradientCheckpointing;
  }

  set gradientCheckpointing(on: boolean) {
    this.base.gradientCheckpointing = on;
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

// Layers whose weight is frozen and kept outside the wasm heap (engine/frozen.ts): the linear layers
// of a base model that trains adapters, and its token embeddings (which also project the logits when
// the head is tied). Constructed empty, without allocating anything for the weight; the checkpoint
// loader (weights.ts) hands each its tensor once, as stored, and `load` keeps it (quantized if asked).
import { tf } from '../engine/tf.js';
import { FrozenWeight, type StoredTensor } from '../engine/frozen.js';
import type { QuantizeMode } from '../quant/formats.js';
import type { FrozenHead } from './heads.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';

/** What the frozen layers share: a [rows, cols] weight slot filled once from a checkpoint tensor. */
abstract class FrozenSlot extends Module {
  private stored: FrozenWeight | undefined;

  protected constructor(
    /** The weight's shape, as the checkpoint stores it. */
    readonly weightShape: readonly [number, number],
    /** Quantization applied at load ('none' keeps the checkpoint's dtype). */
    readonly quantize: QuantizeMode,
  ) {
    super();
  }

  /** Takes the checkpoint tensor `name` (its bytes are kept or quantized; nothing goes on the heap). */
  load(t: StoredTensor, name: string): void {
    const next = FrozenWeight.fromStored(t, this.quantize, name);
    this.stored?.dispose();
    this.stored = next;
  }

  /** Replaces the weight (merges); the layer owns `w` from now on. */
  replaceWeight(w: FrozenWeight): void {
    this.stored?.dispose();
    this.stored = w;
  }

  get loaded(): boolean {
    return this.stored !== undefined;
  }

  /** The weight; an error when the checkpoint never filled it. */
  get frozen(): FrozenWeight {
    if (this.stored === undefined) throw new Error(`${this.constructor.name} [${this.weightShape}]: its weight was never loaded from a checkpoint`);
    return this.stored;
  }

  protected override releaseResources(): void {
    this.stored?.dispose();
    this.stored = undefined;
  }
}

/**
 * y = x·Wᵀ + b with W [out, in] frozen outside the heap; the bias (if any) stays an ordinary float32
 * tensor, not trained. Gradients flow to x only.
 */
export class FrozenLinear extends FrozenSlot implements LinearLike {
  readonly bias: tf.Variable<tf.Rank.R1> | undefined;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; quantize: QuantizeMode },
  ) {
    super([outFeatures, inFeatures], opts.quantize);
    this.bias = opts.bias === false ? undefined : this.param('bias', tf.zeros([outFeatures], 'float32'), false);
  }

  private dense: tf.Tensor2D | undefined;

  /**
   * Forward through `w`, a float32 copy of W [out, in] the caller owns (a variable, so autodiff gives
   * dL/dW: the gradient diagnostic), until called again with undefined.
   */
  useDenseWeight(w: tf.Tensor2D | undefined): void {
    this.dense = w;
  }

  get usesDenseWeight(): boolean {
    return this.dense !== undefined;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D; // [N, in]
      let y = this.dense ? tf.matMul(x2, this.dense, false, true) : this.frozen.matmul(x2, 0); // [N, out]
      if (this.bias) y = tf.add(y, this.bias);
      return tf.reshape(y, [...lead, this.outFeatures]);
    });
  }
}

/** Token embeddings [num, dim] frozen outside the heap: rows gathered as float32; `project` is a tied head. */
export class FrozenEmbedding extends FrozenSlot {
  constructor(readonly numEmbeddings: number, readonly dim: number) {
    super([numEmbeddings, dim], 'none'); // never quantized (bitsandbytes' default)
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return this.frozen.gather(ids); // [..., dim]
  }

  /** h [N, dim] → h·Eᵀ [N, num]: the logits of a tied head. */
  project(h: tf.Tensor2D): tf.Tensor2D {
    return this.frozen.matmul(h, 0);
  }
}

export { FrozenSlot };

/**
 * The frozen output layer of a causal LM as a `FrozenHead` (heads.ts `chunkedCausalLmLoss`): a bias-free
 * FrozenLinear lm_head, or the frozen embeddings of a tied head. Undefined for anything else (a head on
 * the heap, a LoRA-wrapped head, one on its float32 copy for the gradient diagnostic).
 */
export function frozenHead(m: unknown): FrozenHead | undefined {
  if (m instanceof FrozenLinear && m.bias === undefined && !m.usesDenseWeight) return productsOf(m.frozen, m.outFeatures);
  if (m instanceof FrozenEmbedding) return productsOf(m.frozen, m.numEmbeddings);
  return undefined;
}

function productsOf(w: FrozenWeight, vocab: number): FrozenHead {
  return { vocab, logits: (h) => w.matmul(h, 0), inputGrad: (dz) => w.matmul(dz, 1) };
}

// T5's layers with Hugging Face's names (transformers src/transformers/models/t5/modeling_t5.py):
//   block.{i}.layer.0.{SelfAttention.{q,k,v,o[,relative_attention_bias]}, layer_norm}
//   block.{i}.layer.1.{EncDecAttention.{q,k,v,o}, layer_norm}          (decoder blocks only)
//   block.{i}.layer.{1|2}.{DenseReluDense.{wi | wi_0, wi_1}, wo}, layer_norm}
// Unlike GPT-2/Llama: no biases anywhere, no 1/√d scaling of the scores (folded into the init by
// Mesh TensorFlow), and positions enter as a learned per-head bias over bucketed relative distances.
import { tf } from '../engine/tf.js';
import type { T5Config } from '../io/hf-config.js';
import { mergeHeads, scaledDotProductAttention, splitHeads } from './attention.js';
import type { DropoutSettings } from './decoder.js';
import type { BlockKV } from './kv-cache.js';
import { Embedding, ModuleList, RMSNorm, activation, asLinear, linear, type Activation, type Init } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';

/**
 * T5Attention._relative_position_bucket for one relative position (key − query): half the buckets
 * (per direction when bidirectional) hold exact distances, the rest log-spaced distances up to
 * maxDistance. The log term is computed in float32, as PyTorch does on `relative_position.float()`,
 * so the truncation to an integer bucket agrees with Hugging Face at the edges.
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let n: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    n = Math.abs(relative);
  } else {
    n = -Math.min(relative, 0); // later keys (positive distances) all share bucket 0; the causal mask hides them
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** Bucket ids int32 [T, S] for queries at positions past … past+T−1 over keys 0 … S−1. */
function bucketGrid(T: number, S: number, past: number, bidirectional: boolean, config: T5Config): Int32Array {
  const out = new Int32Array(T * S);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < S; j++) out[i * S + j] = relativePositionBucket(j - (past + i), bidirectional, config.relativeAttentionNumBuckets, config.relativeAttentionMaxDistance);
  }
  return out;
}

/** Multi-head attention without biases or score scaling; block 0 of each stack owns the position bias table. */
export class T5Attention extends Module {
  q: LinearLike;
  k: LinearLike;
  v: LinearLike;
  o: LinearLike;
  readonly relativeAttentionBias: Embedding | undefined;
  private readonly nHeads: number;

  constructor(private readonly config: T5Config, hasRelativeAttentionBias: boolean, init: Init) {
    super();
    const inner = config.numHeads * config.dKv;
    this.nHeads = config.numHeads;
    this.q = this.child('q', linear(config.dModel, inner, init, { bias: false }));
    this.k = this.child('k', linear(config.dModel, inner, init, { bias: false }));
    this.v = this.child('v', linear(config.dModel, inner, init, { bias: false }));
    this.o = this.child('o', linear(inner, config.dModel, init, { bias: false }));
    this.relativeAttentionBias = hasRelativeAttentionBias ? this.child('relative_attention_bias', new Embedding(config.relativeAttentionNumBuckets, config.numHeads, init)) : undefined;
  }

  /** The learned position bias [1, nH, T, S] (T5Attention.compute_bias, keeping the last T query rows when `past` are cached). */
  positionBias(T: number, S: number, past: number, bidirectional: boolean): tf.Tensor4D {
    if (!this.relativeAttentionBias) throw new Error('T5Attention.positionBias: only the first block of a stack has relative_attention_bias');
    const table = this.relativeAttentionBias.weight;
    return tf.tidy(() => {
      const buckets = tf.tensor2d(bucketGrid(T, S, past, bidirectional, this.config), [T, S], 'int32');
      const values = tf.gather(table, buckets); // [T, S, nH]
      return tf.expandDims(tf.transpose(values, [2, 0, 1]), 0) as tf.Tensor4D; // [1, nH, T, S]
    });
  }

  /** Keys and values of `h` [B, S, d], each [B, nH, S, dKv]. */
  keysValues(h: tf.Tensor3D): [tf.Tensor4D, tf.Tensor4D] {
    return [splitHeads(this.k.forward(h), this.nHeads), splitHeads(this.v.forward(h), this.nHeads)];
  }

  /** softmax(q·kᵀ + bias)·v for queries from x [B, T, d], then o: [B, T, d]. */
  attend(x: tf.Tensor3D, k: tf.Tensor4D, v: tf.Tensor4D, bias: tf.Tensor4D | undefined, dropout: DropoutSettings, learnedBias = false): tf.Tensor3D {
    return tf.tidy(() => {
      const q = splitHeads(this.q.forward(x), this.nHeads); // [B, nH, T, dKv]
      const y = scaledDotProductAttention(q, k, v, bias, { scale: 1, dropout: dropout.drop, dropoutRate: dropout.attention, learnedBias }); // [B, nH, T, dKv]
      return this.o.forward(mergeHeads(y)) as tf.Tensor3D; // [B, T, d]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'q') this.q = l;
    else if (name === 'k') this.k = l;
    else if (name === 'v') this.v = l;
    else if (name === 'o') this.o = l;
    else super.onChildReplaced(name, module);
  }
}

/** `layer.0` (self-attention) or the decoder's `layer.1` (EncDecAttention): pre-norm, residual. */
export class T5AttentionLayer extends Module {
  readonly attention: T5Attention;
  readonly layerNorm: RMSNorm;

  constructor(config: T5Config, name: 'SelfAttention' | 'EncDecAttention', hasRelativeAttentionBias: boolean, init: Init) {
    super();
    this.attention = this.child(name, new T5Attention(config, hasRelativeAttentionBias, init));
    this.layerNorm = this.child('layer_norm', new RMSNorm(config.dModel, config.layerNormEpsilon));
  }
}

/** DenseReluDense: wo(act(wi(x))), or wo(act(wi_0(x)) · wi_1(x)) when gated (v1.1). */
export class T5DenseActDense extends Module {
  wi: LinearLike | undefined;
  wi0: LinearLike | undefined;
  wi1: LinearLike | undefined;
  wo: LinearLike;
  private readonly act: Activation;

  constructor(config: T5Config, init: Init) {
    super();
    if (config.isGatedAct) {
      this.wi0 = this.child('wi_0', linear(config.dModel, config.dFf, init, { bias: false }));
      this.wi1 = this.child('wi_1', linear(config.dModel, config.dFf, init, { bias: false }));
    } else {
      this.wi = this.child('wi', linear(config.dModel, config.dFf, init, { bias: false }));
    }
    this.wo = this.child('wo', linear(config.dFf, config.dModel, init, { bias: false }));
    this.act = activation(config.denseActFn);
  }

  forward(x: tf.Tensor3D, dropout: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => {
      const h = this.wi ? this.act(this.wi.forward(x)) : tf.mul(this.act(this.wi0!.forward(x)), this.wi1!.forward(x)); // [B, T, d_ff]
      return this.wo.forward(dropout.drop(h, dropout.hidden)) as tf.Tensor3D; // [B, T, d]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'wi') this.wi = l;
    else if (name === 'wi_0') this.wi0 = l;
    else if (name === 'wi_1') this.wi1 = l;
    else if (name === 'wo') this.wo = l;
    else super.onChildReplaced(name, module);
  }
}

/** T5LayerFF: x + dropout(DenseReluDense(layer_norm(x))). */
export class T5LayerFF extends Module {
  readonly dense: T5DenseActDense;
  readonly layerNorm: RMSNorm;

  constructor(config: T5Config, init: Init) {
    super();
    this.dense = this.child('DenseReluDense', new T5DenseActDense(config, init));
    this.layerNorm = this.child('layer_norm', new RMSNorm(config.dModel, config.layerNormEpsilon));
  }

  forward(x: tf.Tensor3D, dropout: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => tf.add(x, dropout.drop(this.dense.forward(this.layerNorm.forward(x) as tf.Tensor3D, dropout), dropout.hidden)) as tf.Tensor3D);
  }
}

/** T5Block: `layer` = [self-attention, (cross-attention,) feed-forward]. */
export class T5Block extends Module {
  readonly self: T5AttentionLayer;
  readonly cross: T5AttentionLayer | undefined;
  readonly ff: T5LayerFF;

  constructor(config: T5Config, isDecoder: boolean, hasRelativeAttentionBias: boolean, init: Init) {
    super();
    const self = new T5AttentionLayer(config, 'SelfAttention', hasRelativeAttentionBias, init);
    const cross = isDecoder ? new T5AttentionLayer(config, 'EncDecAttention', false, init) : undefined;
    const ff = new T5LayerFF(config, init);
    this.child('layer', new ModuleList<Module>(cross ? [self, cross, ff] : [self, ff]));
    this.self = self;
    this.cross = cross;
    this.ff = ff;
  }

  /** x [B, T, d]; `enc` [B, S_enc, d] and `kv` for decoder blocks. */
  forward(x: tf.Tensor3D, bias: tf.Tensor4D | undefined, dropout: DropoutSettings, dec?: { enc: tf.Tensor3D; crossBias: tf.Tensor4D | undefined; kv?: BlockKV }): tf.Tensor3D {
    return tf.tidy(() => {
      const att = this.self.attention;
      const h = this.self.layerNorm.forward(x) as tf.Tensor3D;
      const [kNew, vNew] = att.keysValues(h); // [B, nH, T, dKv]
      const [k, v] = dec?.kv ? dec.kv.selfKV(kNew, vNew) : [kNew, vNew]; // [B, nH, S, dKv]
      let y = tf.add(x, dropout.drop(att.attend(h, k, v, bias, dropout, true), dropout.hidden)) as tf.Tensor3D;
      if (this.cross && dec) {
        const ca = this.cross.attention;
        const hc = this.cross.layerNorm.forward(y) as tf.Tensor3D;
        const [ck, cv] = dec.kv ? dec.kv.crossKV(() => ca.keysValues(dec.enc)) : ca.keysValues(dec.enc); // [B, nH, S_enc, dKv]
        y = tf.add(y, dropout.drop(ca.attend(hc, ck, cv, dec.crossBias, dropout), dropout.hidden)) as tf.Tensor3D;
      }
      return this.ff.forward(y, dropout);
    });
  }
}

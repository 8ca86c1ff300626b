// GPT-2 with Hugging Face's module tree, so parameter names are checkpoint names:
//   transformer.{wte, wpe, h.{i}.{ln_1, attn.{c_attn, c_proj}, ln_2, mlp.{c_fc, c_proj}}, ln_f}, lm_head | score
// Conv1D layers are Linear layers that transpose their [in, out] checkpoint weights on load.
import { tf } from '../engine/tf.js';
import type { Gpt2Config } from '../io/hf-config.js';
import { attentionBias, mergeHeads, positionIdsFromMask, positionIdsRange, scaledDotProductAttention, splitQkvHeads } from './attention.js';
import { DecoderCausalLM, DecoderClassifier, DropoutSource, runBlocks, type DecoderBackbone, type ForwardContext, type DropoutSettings } from './decoder.js';
import type { KVCache } from './kv-cache.js';
import { Embedding, LayerNorm, ModuleList, activation, asLinear, headInit, linear, randomInit, type Activation, type Init } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';
import type { ModelOptions } from './types.js';

export class GPT2Attention extends Module {
  cAttn: LinearLike;
  cProj: LinearLike;
  private readonly nHead: number;
  private readonly scale: number;

  constructor(config: Gpt2Config, readonly layerIdx: number, init: Init) {
    super();
    const C = config.nEmbd;
    this.nHead = config.nHead;
    this.cAttn = this.child('c_attn', linear(C, 3 * C, init, { transposeOnLoad: true }));
    this.cProj = this.child('c_proj', linear(C, C, init, { transposeOnLoad: true }));
    const headScale = config.scaleAttnWeights ? 1 / Math.sqrt(C / config.nHead) : 1;
    this.scale = config.scaleAttnByInverseLayerIdx ? headScale / (layerIdx + 1) : headScale;
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const qkv = this.cAttn.forward(x); // [B, T, 3C]
      const [q, kNew, vNew] = splitQkvHeads(qkv, this.nHead); // [B, nH, T, hd] each
      const [k, v] = ctx.cache ? ctx.cache.append(this.layerIdx, kNew, vNew) : [kNew, vNew]; // [B, nH, S, hd]
      const { drop, hidden, attention } = ctx.dropout;
      const y = scaledDotProductAttention(q, k, v, ctx.bias, { scale: this.scale, dropout: drop, dropoutRate: attention }); // [B, nH, T, hd]
      return drop(this.cProj.forward(mergeHeads(y)), hidden) as tf.Tensor3D; // [B, T, C]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'c_attn') this.cAttn = asLinear(module, name);
    else if (name === 'c_proj') this.cProj = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

export class GPT2MLP extends Module {
  cFc: LinearLike;
  cProj: LinearLike;
  private readonly act: Activation;

  constructor(config: Gpt2Config, init: Init) {
    super();
    this.cFc = this.child('c_fc', linear(config.nEmbd, config.nInner, init, { transposeOnLoad: true }));
    this.cProj = this.child('c_proj', linear(config.nInner, config.nEmbd, init, { transposeOnLoad: true }));
    this.act = activation(config.activation);
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const h = this.act(this.cFc.forward(x)); // [B, T, 4C]
      return ctx.dropout.drop(this.cProj.forward(h), ctx.dropout.hidden) as tf.Tensor3D; // [B, T, C]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'c_fc') this.cFc = asLinear(module, name);
    else if (name === 'c_proj') this.cProj = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

/** Pre-norm block: x + attn(ln_1(x)), then + mlp(ln_2(x)). */
export class GPT2Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(config: Gpt2Config, layerIdx: number, init: Init) {
    super();
    this.ln1 = this.child('ln_1', new LayerNorm(config.nEmbd, config.layerNormEpsilon));
    this.attn = this.child('attn', new GPT2Attention(config, layerIdx, init));
    this.ln2 = this.child('ln_2', new LayerNorm(config.nEmbd, config.layerNormEpsilon));
    this.mlp = this.child('mlp', new GPT2MLP(config, init));
  }

  forward(x: tf.Tensor3D, ctx: ForwardContext): tf.Tensor3D {
    return tf.tidy(() => {
      const a = tf.add(x, this.attn.forward(this.ln1.forward(x) as tf.Tensor3D, ctx)) as tf.Tensor3D; // [B, T, C]
      return tf.add(a, this.mlp.forward(this.ln2.forward(a) as tf.Tensor3D, ctx)) as tf.Tensor3D;
    });
  }
}

/** The `transformer` child: embeddings, blocks and the final LayerNorm. */
export class GPT2Model extends Module implements DecoderBackbone {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: ModuleList<GPT2Block>;
  readonly lnF: LayerNorm;
  gradientCheckpointing = false;

  constructor(readonly config: Gpt2Config, init: Init) {
    super();
    this.wte = this.child('wte', new Embedding(config.vocabSize, config.nEmbd, init));
    this.wpe = this.child('wpe', new Embedding(config.nPositions, config.nEmbd, init));
    this.h = this.child('h', new ModuleList(Array.from({ length: config.nLayer }, (_, i) => new GPT2Block(config, i, init))));
    this.lnF = this.child('ln_f', new LayerNorm(config.nEmbd, config.layerNormEpsilon));
  }

  get numLayers(): number {
    return this.config.nLayer;
  }

  get maxPositions(): number {
    return this.config.nPositions;
  }

  /** ids int32 [B, T] → hidden [B, T, C]. Positions count real tokens when a mask is given. */
  forward(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, cache: KVCache | undefined, dropout: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const past = cache?.length ?? 0;
      if (past + T > this.config.nPositions) throw new Error(`GPT-2 sequence of ${past + T} tokens exceeds n_positions ${this.config.nPositions}`);
      const pos = attentionMask ? positionIdsFromMask(attentionMask, T) : positionIdsRange(B, T, past); // [B, T]
      let x = tf.add(this.wte.forward(ids), this.wpe.forward(pos)) as tf.Tensor3D; // [B, T, C]
      x = dropout.drop(x, dropout.hidden) as tf.Tensor3D;
      const ctx: ForwardContext = { bias: attentionBias(T, past, true, attentionMask), cache, dropout };
      x = runBlocks(this.h.items, x, ctx, this.gradientCheckpointing);
      return this.lnF.forward(x) as tf.Tensor3D;
    });
  }
}

/**
 * GPT2LMHeadModel: `transformer` + `lm_head`, which is the transposed `wte` unless
 * tie_word_embeddings is false.
 *
 * @example
 *   const model = new GPT2LMHeadModel(config, { init: randomInit(42) });
 *   const logits = model.logits(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32')); // [1, 3, V]
 */
export class GPT2LMHeadModel extends DecoderCausalLM<GPT2Model> {
  readonly architecture = 'GPT2LMHeadModel';

  constructor(readonly config: Gpt2Config, opts: ModelOptions = {}) {
    const transformer = new GPT2Model(config, opts.init ?? randomInit(0));
    const head = config.tieWordEmbeddings ? undefined : linear(config.nEmbd, config.vocabSize, headInit(opts.init, opts.headSeed), { bias: false });
    super('transformer', transformer, head, new DropoutSource(opts));
  }

  protected tiedWeight(): tf.Tensor2D {
    return this.base.wte.weight;
  }
}

/** GPT2ForSequenceClassification: `transformer` + `score` [numLabels, C] on the last real token. */
export class GPT2ForSequenceClassification extends DecoderClassifier<GPT2Model> {
  readonly architecture = 'GPT2ForSequenceClassification';

  constructor(readonly config: Gpt2Config, opts: ModelOptions = {}) {
    const transformer = new GPT2Model(config, opts.init ?? randomInit(0));
    const score = linear(config.nEmbd, opts.numLabels ?? config.numLabels, headInit(opts.init, opts.headSeed), { bias: false });
    super('transformer', transformer, score, new DropoutSource(opts));
  }
}

// The Llama family (llama, qwen2, mistral) with Hugging Face's module tree:
//   model.{embed_tokens, layers.{i}.{input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
//          mlp.{gate,up,down}_proj}, norm}, lm_head | score
// The three differ only in config: qwen2 has q/k/v biases, mistral a sliding attention window.
import { tf } from '../engine/tf.js';
import type { LlamaConfig } from '../io/hf-config.js';
import { attentionBias, mergeHeads, positionIdsFromMask, positionIdsRange, scaledDotProductAttention, splitHeads } from './attention.js';
import { DecoderCausalLM, DecoderClassifier, DropoutSource, runBlocks, type DecoderBackbone, type DropoutSettings, type ForwardContext } from './decoder.js';
import type { KVCache } from './kv-cache.js';
import { Embedding, ModuleList, RMSNorm, activation, asLinear, blockLinear, gatedActivation, headInit, linear, randomInit, silu, tokenEmbedding, type Activation, type Init } from './layers.js';
import { swiglu, swigluGrad } from '../engine/fused.js';
import { FrozenEmbedding, FrozenLinear, frozenHead } from './frozen-linear.js';
import type { FrozenHead } from './heads.js';
import type { LinearLike, RemadeInput } from './linear.js';
import { Module } from './module.js';
import { applyRope, ropeCosSin, ropeCosSinRange, ropeInvFreq } from './rope.js';
import type { ModelOptions } from './types.js';

/** ForwardContext plus this forward's rotary tables, [B, 1, T, hd] each. */
interface LlamaContext extends ForwardContext {
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
}

export class LlamaAttention extends Module {
  qProj: LinearLike;
  kProj: LinearLike;
  vProj: LinearLike;
  oProj: LinearLike;
  private readonly nHead: number;
  private readonly nKV: number;
  private readonly headDim: number;

  constructor(config: LlamaConfig, readonly layerIdx: number, init: Init) {
    super();
    const d = config.hiddenSize;
    this.nHead = config.numAttentionHeads;
    this.nKV = config.numKeyValueHeads;
    this.headDim = config.headDim;
    const bias = config.qkvBias;
    this.qProj = this.child('q_proj', blockLinear(d, this.nHead * this.headDim, init, { bias }));
    this.kProj = this.child('k_proj', blockLinear(d, this.nKV * this.headDim, init, { bias }));
    this.vProj = this.child('v_proj', blockLinear(d, this.nKV * this.headDim, init, { bias }));
    this.oProj = this.child('o_proj', blockLinear(this.nHead * this.headDim, d, init, { bias: config.oBias }));
  }

  forward(x: tf.Tensor3D, ctx: LlamaContext): tf.Tensor3D {
    return tf.tidy(() => {
      const q = applyRope(splitHeads(this.qProj.forward(x), this.nHead), ctx.cos, ctx.sin); // [B, nH, T, hd]
      const kNew = applyRope(splitHeads(this.kProj.forward(x), this.nKV), ctx.cos, ctx.sin); // [B, nKV, T, hd]
      const vNew = splitHeads(this.vProj.forward(x), this.nKV); // [B, nKV, T, hd]
      const [k, v] = ctx.cache ? ctx.cache.append(this.layerIdx, kNew, vNew) : [kNew, vNew]; // [B, nKV, S, hd]
      const scale = 1 / Math.sqrt(this.headDim);
      const y = scaledDotProductAttention(q, k, v, ctx.bias, { scale, dropout: ctx.dropout.drop, dropoutRate: ctx.dropout.attention }); // [B, nH, T, hd]
      return this.oProj.forward(mergeHeads(y)) as tf.Tensor3D; // [B, T, d]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'q_proj') this.qProj = l;
    else if (name === 'k_proj') this.kProj = l;
    else if (name === 'v_proj') this.vProj = l;
    else if (name === 'o_proj') this.oProj = l;
    else super.onChildReplaced(name, module);
  }
}

/** silu(gate)·up made from [gate, up], and [dgate, dup] from its gradient: one native pass each way. */
function swigluInput(gate: tf.Tensor, up: tf.Tensor): RemadeInput {
  return { parts: [gate, up], make: ([g, u]) => swiglu(g, u), grad: ([g, u], dh) => swigluGrad(g, u, dh) };
}

/** SwiGLU feed-forward: down(act(gate(x)) · up(x)). */
export class LlamaMLP extends Module {
  gateProj: LinearLike;
  upProj: LinearLike;
  downProj: LinearLike;
  private readonly act: Activation;

  constructor(config: LlamaConfig, init: Init) {
    super();
    const bias = config.mlpBias;
    this.gateProj = this.child('gate_proj', blockLinear(config.hiddenSize, config.intermediateSize, init, { bias }));
    this.upProj = this.child('up_proj', blockLinear(config.hiddenSize, config.intermediateSize, init, { bias }));
    this.downProj = this.child('down_proj', blockLinear(config.intermediateSize, config.hiddenSize, init, { bias }));
    this.act = activation(config.hiddenAct);
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const gate = this.gateProj.forward(x); // [B, T, I]
      const up = this.upProj.forward(x);
      // a LoRA down_proj keeps gate and up (kept by silu's gradient anyway), not silu(gate)·up: 1/5 of a block's activations
      const remade = this.act === silu ? this.downProj.forwardRemade?.(swigluInput(gate, up)) : undefined;
      return (remade ?? this.downProj.forward(gatedActivation(this.act, gate, up))) as tf.Tensor3D; // [B, T, d]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'gate_proj') this.gateProj = l;
    else if (name === 'up_proj') this.upProj = l;
    else if (name === 'down_proj') this.downProj = l;
    else super.onChildReplaced(name, module);
  }
}

/** Pre-norm block: x + attn(norm(x)), then + mlp(norm(x)). */
export class LlamaDecoderLayer extends Module {
  readonly inputLayernorm: RMSNorm;
  readonly selfAttn: LlamaAttention;
  readonly postAttentionLayernorm: RMSNorm;
  readonly mlp: LlamaMLP;

  constructor(config: LlamaConfig, layerIdx: number, init: Init) {
    super();
    this.inputLayernorm = this.child('input_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.selfAttn = this.child('self_attn', new LlamaAttention(config, layerIdx, init));
    this.postAttentionLayernorm = this.child('post_attention_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.mlp = this.child('mlp', new LlamaMLP(config, init));
  }

  forward(x: tf.Tensor3D, ctx: LlamaContext): tf.Tensor3D {
    return tf.tidy(() => {
      const a = tf.add(x, this.selfAttn.forward(this.inputLayernorm.forward(x) as tf.Tensor3D, ctx)) as tf.Tensor3D; // [B, T, d]
      return tf.add(a, this.mlp.forward(this.postAttentionLayernorm.forward(a) as tf.Tensor3D)) as tf.Tensor3D;
    });
  }
}

/** The `model` child (Hugging Face's LlamaModel): embeddings, layers, final RMSNorm. */
export class LlamaModel extends Module implements DecoderBackbone {
  readonly embedTokens: Embedding | FrozenEmbedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;
  /** Rotary inverse frequencies [headDim/2]: a constant, not a parameter (HF's `inv_freq` buffer). */
  private readonly invFreq: Float32Array;
  gradientCheckpointing = false;

  constructor(readonly config: LlamaConfig, init: Init) {
    super();
    this.embedTokens = this.child('embed_tokens', tokenEmbedding(config.vocabSize, config.hiddenSize, init));
    this.layers = this.child('layers', new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i, init))));
    this.norm = this.child('norm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.invFreq = ropeInvFreq(config.headDim, config.ropeTheta, config.ropeScaling);
  }

  get numLayers(): number {
    return this.config.numHiddenLayers;
  }

  get maxPositions(): number {
    return Infinity; // rotary positions extrapolate (badly) rather than index out of a table
  }

  /** ids int32 [B, T] → hidden [B, T, d]. Positions count real tokens when a mask is given. */
  forward(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, cache: KVCache | undefined, dropout: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const past = cache?.length ?? 0;
      const { cos, sin } = attentionMask ? ropeCosSin(positionIdsFromMask(attentionMask, T), this.invFreq) : ropeCosSinRange(B, T, past, this.invFreq); // [B, 1, T, hd]
      const bias = attentionBias(T, past, true, attentionMask, this.config.slidingWindow);
      const ctx: LlamaContext = { bias, cache, cos, sin, dropout };
      let x = this.embedTokens.forward(ids) as tf.Tensor3D; // [B, T, d]
      x = runBlocks(this.layers.items, x, ctx, this.gradientCheckpointing);
      return this.norm.forward(x) as tf.Tensor3D;
    });
  }
}

const CAUSAL_LM_NAMES: Record<LlamaConfig['modelType'], string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', mistral: 'MistralForCausalLM' };
const CLASSIFIER_NAMES: Record<LlamaConfig['modelType'], string> = {
  llama: 'LlamaForSequenceClassification',
  qwen2: 'Qwen2ForSequenceClassification',
  mistral: 'MistralForSequenceClassification',
};

/**
 * LlamaForCausalLM (and Qwen2/Mistral): `model` + `lm_head`, which is `embed_tokens` when
 * tie_word_embeddings (then the checkpoint has no lm_head.weight and the model no such parameter).
 *
 * @example
 *   const model = new LlamaForCausalLM(config, { init: randomInit(1) });
 *   const loss = model.loss(ids, labels); // scalar
 */
export class LlamaForCausalLM extends DecoderCausalLM<LlamaModel> {
  readonly architecture: string;

  constructor(readonly config: LlamaConfig, opts: ModelOptions = {}) {
    const model = new LlamaModel(config, opts.init ?? randomInit(0));
    // on the frozen tier the LM head stays in the checkpoint's dtype, never quantized (bitsandbytes' default)
    const head = config.tieWordEmbeddings
      ? undefined
      : opts.init?.frozen
        ? new FrozenLinear(config.hiddenSize, config.vocabSize, { bias: false, quantize: 'none' })
        : linear(config.hiddenSize, config.vocabSize, headInit(opts.init, opts.headSeed), { bias: false });
    super('model', model, head, new DropoutSource(opts));
    this.architecture = CAUSAL_LM_NAMES[config.modelType];
  }

  protected tiedWeight(): tf.Tensor2D {
    const e = this.base.embedTokens;
    if (e instanceof FrozenEmbedding) throw new Error('tiedWeight: the embeddings are frozen outside the heap; tiedLogits projects with them');
    return e.weight;
  }

  protected override tiedLogits(h: tf.Tensor2D): tf.Tensor2D {
    const e = this.base.embedTokens;
    return e instanceof FrozenEmbedding ? e.project(h) : super.tiedLogits(h);
  }

  protected override frozenOutput(): FrozenHead | undefined {
    return this.lmHead ? frozenHead(this.lmHead) : frozenHead(this.base.embedTokens);
  }
}

/** LlamaForSequenceClassification (and Qwen2/Mistral): `model` + `score` on the last real token. */
export class LlamaForSequenceClassification extends DecoderClassifier<LlamaModel> {
  readonly architecture: string;

  constructor(readonly config: LlamaConfig, opts: ModelOptions = {}) {
    const model = new LlamaModel(config, opts.init ?? randomInit(0));
    const score = linear(config.hiddenSize, opts.numLabels ?? config.numLabels, headInit(opts.init, opts.headSeed), { bias: false });
    super('model', model, score, new DropoutSource(opts));
    this.architecture = CLASSIFIER_NAMES[config.modelType];
  }
}

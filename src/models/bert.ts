// BERT and RoBERTa encoders for sequence classification, with Hugging Face's module tree:
//   bert|roberta.{embeddings.{word_embeddings, position_embeddings, token_type_embeddings, LayerNorm},
//     encoder.layer.{i}.{attention.{self.{query,key,value}, output.{dense, LayerNorm}},
//                        intermediate.dense, output.{dense, LayerNorm}}, pooler.dense},
//   classifier (BERT) | classifier.{dense, out_proj} (RoBERTa, which has no pooler)
import { tf } from '../engine/tf.js';
import type { BertConfig } from '../io/hf-config.js';
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from './attention.js';
import { DropoutSource, checkIds, type DropoutSettings } from './decoder.js';
import { classificationLoss } from './heads.js';
import { Embedding, LayerNorm, ModuleList, activation, asLinear, headInit, linear, randomInit, type Activation, type Init } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';
import type { ClassifyOptions, ModelOptions, SequenceClassifier } from './types.js';

interface EncoderContext {
  bias: tf.Tensor4D | undefined; // [B, 1, 1, T] padding mask
  dropout: DropoutSettings;
}

/**
 * Position ids. BERT: 0 … T−1. RoBERTa (`create_position_ids_from_input_ids`): real tokens count
 * from padding_idx + 1 and padding tokens sit at padding_idx — found from the ids, not the mask.
 */
export function bertPositionIds(ids: tf.Tensor2D, config: BertConfig): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = ids.shape;
    if (config.modelType === 'bert') return tf.tile(tf.reshape(tf.range(0, T, 1, 'int32'), [1, T]), [B, 1]) as tf.Tensor2D;
    const real = tf.cast(tf.notEqual(ids, config.padTokenId), 'int32'); // [B, T]
    return tf.add(tf.mul(tf.cumsum(real, 1), real), tf.scalar(config.padTokenId, 'int32')) as tf.Tensor2D;
  });
}

export class BertEmbeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly tokenTypeEmbeddings: Embedding;
  readonly layerNorm: LayerNorm;

  constructor(readonly config: BertConfig, init: Init) {
    super();
    this.wordEmbeddings = this.child('word_embeddings', new Embedding(config.vocabSize, config.hiddenSize, init));
    this.positionEmbeddings = this.child('position_embeddings', new Embedding(config.maxPositionEmbeddings, config.hiddenSize, init));
    this.tokenTypeEmbeddings = this.child('token_type_embeddings', new Embedding(config.typeVocabSize, config.hiddenSize, init));
    this.layerNorm = this.child('LayerNorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
  }

  forward(ids: tf.Tensor2D, tokenTypeIds: tf.Tensor2D | undefined, d: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => {
      const pos = bertPositionIds(ids, this.config); // [B, T]
      const types = tokenTypeIds ?? tf.zerosLike(ids);
      const words = this.wordEmbeddings.forward(ids); // [B, T, d]
      const x = tf.add(tf.add(words, this.tokenTypeEmbeddings.forward(types)), this.positionEmbeddings.forward(pos));
      return d.drop(this.layerNorm.forward(x), d.hidden) as tf.Tensor3D;
    });
  }
}

export class BertSelfAttention extends Module {
  query: LinearLike;
  key: LinearLike;
  value: LinearLike;
  private readonly nHead: number;

  constructor(config: BertConfig, init: Init) {
    super();
    const d = config.hiddenSize;
    this.nHead = config.numAttentionHeads;
    this.query = this.child('query', linear(d, d, init));
    this.key = this.child('key', linear(d, d, init));
    this.value = this.child('value', linear(d, d, init));
  }

  forward(x: tf.Tensor3D, ctx: EncoderContext): tf.Tensor3D {
    return tf.tidy(() => {
      const q = splitHeads(this.query.forward(x), this.nHead); // [B, nH, T, hd]
      const k = splitHeads(this.key.forward(x), this.nHead);
      const v = splitHeads(this.value.forward(x), this.nHead);
      const scale = 1 / Math.sqrt(q.shape[3]);
      const y = scaledDotProductAttention(q, k, v, ctx.bias, { scale, dropout: ctx.dropout.drop, dropoutRate: ctx.dropout.attention }); // [B, nH, T, hd]
      return mergeHeads(y); // [B, T, d]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'query') this.query = l;
    else if (name === 'key') this.key = l;
    else if (name === 'value') this.value = l;
    else super.onChildReplaced(name, module);
  }
}

/** dense → dropout → LayerNorm(· + residual): BertSelfOutput and BertOutput are this with different sizes. */
export class BertResidualOutput extends Module {
  dense: LinearLike;
  readonly layerNorm: LayerNorm;

  constructor(inFeatures: number, config: BertConfig, init: Init) {
    super();
    this.dense = this.child('dense', linear(inFeatures, config.hiddenSize, init));
    this.layerNorm = this.child('LayerNorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
  }

  forward(h: tf.Tensor3D, residual: tf.Tensor3D, d: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => this.layerNorm.forward(tf.add(d.drop(this.dense.forward(h), d.hidden), residual)) as tf.Tensor3D);
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'dense') this.dense = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

export class BertAttention extends Module {
  readonly self: BertSelfAttention;
  readonly output: BertResidualOutput;

  constructor(config: BertConfig, init: Init) {
    super();
    this.self = this.child('self', new BertSelfAttention(config, init));
    this.output = this.child('output', new BertResidualOutput(config.hiddenSize, config, init));
  }

  forward(x: tf.Tensor3D, ctx: EncoderContext): tf.Tensor3D {
    return tf.tidy(() => this.output.forward(this.self.forward(x, ctx), x, ctx.dropout));
  }
}

export class BertIntermediate extends Module {
  dense: LinearLike;
  private readonly act: Activation;

  constructor(config: BertConfig, init: Init) {
    super();
    this.dense = this.child('dense', linear(config.hiddenSize, config.intermediateSize, init));
    this.act = activation(config.hiddenAct);
  }

  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => this.act(this.dense.forward(x)) as tf.Tensor3D); // [B, T, I]
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'dense') this.dense = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

/** Post-norm block: LayerNorm(x + attn(x)), then LayerNorm(· + ffn(·)). */
export class BertLayer extends Module {
  readonly attention: BertAttention;
  readonly intermediate: BertIntermediate;
  readonly output: BertResidualOutput;

  constructor(config: BertConfig, init: Init) {
    super();
    this.attention = this.child('attention', new BertAttention(config, init));
    this.intermediate = this.child('intermediate', new BertIntermediate(config, init));
    this.output = this.child('output', new BertResidualOutput(config.intermediateSize, config, init));
  }

  forward(x: tf.Tensor3D, ctx: EncoderContext): tf.Tensor3D {
    return tf.tidy(() => {
      const a = this.attention.forward(x, ctx); // [B, T, d]
      return this.output.forward(this.intermediate.forward(a), a, ctx.dropout);
    });
  }
}

export class BertEncoder extends Module {
  readonly layer: ModuleList<BertLayer>;

  constructor(config: BertConfig, init: Init) {
    super();
    this.layer = this.child('layer', new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config, init))));
  }

  forward(x: tf.Tensor3D, ctx: EncoderContext): tf.Tensor3D {
    return tf.tidy(() => this.layer.items.reduce((h, l) => l.forward(h, ctx), x));
  }
}

/** tanh(dense(hidden of the first token)). */
export class BertPooler extends Module {
  dense: LinearLike;

  constructor(config: BertConfig, init: Init) {
    super();
    this.dense = this.child('dense', linear(config.hiddenSize, config.hiddenSize, init));
  }

  forward(first: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.tanh(this.dense.forward(first)) as tf.Tensor2D);
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'dense') this.dense = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

/** BertModel / RobertaModel: embeddings, encoder and (optionally) pooler. */
export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: BertEncoder;
  readonly pooler: BertPooler | undefined;

  /** `poolerInit` undefined: no pooler (RoBERTa's classifier); else the pooler's init (it may be absent from a checkpoint). */
  constructor(readonly config: BertConfig, init: Init, poolerInit: Init | undefined) {
    super();
    this.embeddings = this.child('embeddings', new BertEmbeddings(config, init));
    this.encoder = this.child('encoder', new BertEncoder(config, init));
    this.pooler = poolerInit ? this.child('pooler', new BertPooler(config, poolerInit)) : undefined;
  }

  /** Last hidden states [B, T, d] for ids, mask (and segment ids) int32 [B, T]. */
  forward(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, tokenTypeIds: tf.Tensor2D | undefined, d: DropoutSettings): tf.Tensor3D {
    return tf.tidy(() => {
      const T = ids.shape[1];
      const maxPos = this.config.maxPositionEmbeddings - (this.config.modelType === 'roberta' ? this.config.padTokenId + 1 : 0);
      if (T > maxPos) throw new Error(`${this.config.modelType} sequence of ${T} tokens exceeds its ${maxPos} positions`);
      const ctx: EncoderContext = { bias: attentionBias(T, 0, false, attentionMask), dropout: d };
      return this.encoder.forward(this.embeddings.forward(ids, tokenTypeIds, d), ctx);
    });
  }
}

/** RoBERTa's head: out_proj(dropout(tanh(dense(dropout(first token))))). */
export class RobertaClassificationHead extends Module {
  dense: LinearLike;
  outProj: LinearLike;

  constructor(config: BertConfig, numLabels: number, init: Init) {
    super();
    this.dense = this.child('dense', linear(config.hiddenSize, config.hiddenSize, init));
    this.outProj = this.child('out_proj', linear(config.hiddenSize, numLabels, init));
  }

  get outFeatures(): number {
    return this.outProj.outFeatures;
  }

  forward(first: tf.Tensor2D, d: DropoutSettings): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.tanh(this.dense.forward(d.drop(first, d.hidden))); // [B, d]
      return this.outProj.forward(d.drop(h, d.hidden)) as tf.Tensor2D; // [B, numLabels]
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    const l = asLinear(module, name);
    if (name === 'dense') this.dense = l;
    else if (name === 'out_proj') this.outProj = l;
    else super.onChildReplaced(name, module);
  }
}

/**
 * BertForSequenceClassification / RobertaForSequenceClassification, chosen by config.modelType.
 * BERT classifies the pooled [CLS] state with `classifier`; RoBERTa has no pooler and a two-layer
 * `classifier.{dense, out_proj}` on the first token.
 *
 * @example
 *   const model = new BertForSequenceClassification(config, { numLabels: 3 });
 *   const logits = model.classify(ids, mask); // [B, 3]
 */
export class BertForSequenceClassification extends Module implements SequenceClassifier {
  readonly task = 'sequence-classification' as const;
  readonly architecture: string;
  readonly basePrefix: string;
  readonly headPrefixes: readonly string[];
  readonly numLabels: number;
  readonly base: BertModel;
  private classifier: LinearLike | RobertaClassificationHead;
  private readonly dropout: DropoutSource;

  constructor(readonly config: BertConfig, opts: ModelOptions = {}) {
    super();
    const roberta = config.modelType === 'roberta';
    this.numLabels = opts.numLabels ?? config.numLabels;
    this.basePrefix = roberta ? 'roberta' : 'bert';
    this.architecture = roberta ? 'RobertaForSequenceClassification' : 'BertForSequenceClassification';
    this.headPrefixes = roberta ? ['classifier.'] : ['classifier.', 'bert.pooler.'];
    const head = headInit(opts.init, opts.headSeed);
    this.base = this.child(this.basePrefix, new BertModel(config, opts.init ?? randomInit(0), roberta ? undefined : head));
    this.classifier = this.child('classifier', roberta ? new RobertaClassificationHead(config, this.numLabels, head) : linear(config.hiddenSize, this.numLabels, head));
    this.dropout = new DropoutSource(opts);
  }

  classify(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, opts: ClassifyOptions = {}): tf.Tensor2D {
    checkIds(ids, attentionMask);
    return tf.tidy(() => {
      const d = this.dropout.settings(opts.training);
      const h = this.base.forward(ids, attentionMask, opts.tokenTypeIds, d); // [B, T, hidden]
      const [B, , hidden] = h.shape;
      const first = tf.reshape(tf.slice(h, [0, 0, 0], [B, 1, hidden]), [B, hidden]) as tf.Tensor2D; // [B, hidden]: [CLS] / <s>
      if (this.classifier instanceof RobertaClassificationHead) return this.classifier.forward(first, d);
      const pooled = this.base.pooler!.forward(first); // [B, hidden]
      return this.classifier.forward(d.drop(pooled, d.hidden)) as tf.Tensor2D; // [B, numLabels]
    });
  }

  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, labels: tf.Tensor1D, opts: ClassifyOptions = {}): tf.Scalar {
    return tf.tidy(() => classificationLoss(this.classify(ids, attentionMask, opts), labels));
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'classifier') this.classifier = module instanceof RobertaClassificationHead ? module : asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

// T5 encoder-decoder with Hugging Face's module tree (transformers src/transformers/models/t5/modeling_t5.py):
//   shared, encoder.{block.{i}, final_layer_norm}, decoder.{block.{i}, final_layer_norm}, lm_head (untied only)
// Both stacks read their token embeddings from `shared` (HF's encoder.embed_tokens / decoder.embed_tokens
// are the same tensor, so checkpoints holding them too are accepted and those copies skipped).
import { tf } from '../engine/tf.js';
import type { T5Config } from '../io/hf-config.js';
import { attentionBias } from './attention.js';
import { DropoutSource, type DropoutSettings } from './decoder.js';
import { IGNORE_INDEX, crossEntropy } from './heads.js';
import type { Seq2SeqCache } from './kv-cache.js';
import { Embedding, ModuleList, RMSNorm, asLinear, headInit, linear, randomInit, type Init } from './layers.js';
import type { LinearLike } from './linear.js';
import { Module } from './module.js';
import { T5Block } from './t5-layers.js';
import type { ModelOptions, PretrainedModel, Seq2SeqLM, Seq2SeqLogitsOptions } from './types.js';

/** T5Stack without its embeddings (they are the root's `shared`): blocks, then final_layer_norm. */
export class T5Stack extends Module {
  readonly block: ModuleList<T5Block>;
  readonly finalLayerNorm: RMSNorm;

  constructor(config: T5Config, readonly isDecoder: boolean, init: Init) {
    super();
    const n = isDecoder ? config.numDecoderLayers : config.numLayers;
    // only the first block computes the position bias; every block reuses it (T5Stack passes position_bias on)
    this.block = this.child('block', new ModuleList(Array.from({ length: n }, (_, i) => new T5Block(config, isDecoder, i === 0, init))));
    this.finalLayerNorm = this.child('final_layer_norm', new RMSNorm(config.dModel, config.layerNormEpsilon));
  }

  /** Position bias [1, nH, T, S]: bidirectional buckets in the encoder, causal ones in the decoder. */
  positionBias(T: number, past: number): tf.Tensor4D {
    return this.block.items[0].self.attention.positionBias(T, past + T, past, !this.isDecoder);
  }

  forward(x: tf.Tensor3D, bias: tf.Tensor4D | undefined, dropout: DropoutSettings, dec?: { enc: tf.Tensor3D; crossBias: tf.Tensor4D | undefined; cache?: Seq2SeqCache }): tf.Tensor3D {
    return tf.tidy(() => {
      let h = dropout.drop(x, dropout.hidden) as tf.Tensor3D;
      this.block.items.forEach((b, i) => {
        h = b.forward(h, bias, dropout, dec && { enc: dec.enc, crossBias: dec.crossBias, kv: dec.cache?.blockKV(i) });
      });
      return dropout.drop(this.finalLayerNorm.forward(h), dropout.hidden) as tf.Tensor3D;
    });
  }
}

/** HF `_shift_right`: decoder inputs = [start, labels[:, :-1]] with -100 replaced by the pad id. int32 [B, T]. */
export function shiftRight(labels: tf.Tensor2D, decoderStartTokenId: number, padTokenId: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [B, T] = labels.shape;
    const l = tf.cast(labels, 'int32');
    const shifted = tf.concat([tf.fill([B, 1], decoderStartTokenId, 'int32'), tf.slice(l, [0, 0], [B, T - 1])], 1); // [B, T]
    return tf.where(tf.equal(shifted, IGNORE_INDEX), tf.fill([B, T], padTokenId, 'int32'), shifted) as tf.Tensor2D;
  });
}

function checkInt2d(t: tf.Tensor, what: string, batch?: number): void {
  if (t.rank !== 2 || t.dtype !== 'int32') throw new Error(`${what} must be int32 [B, T], got ${t.dtype} [${t.shape}]`);
  if (batch !== undefined && t.shape[0] !== batch) throw new Error(`${what} must have B = ${batch} rows, got [${t.shape}]`);
}

/**
 * What T5ForConditionalGeneration and the text-to-text classifier share: the module tree, the
 * encoder, the decoder's logits and the sequence-to-sequence loss.
 */
export abstract class T5Base extends Module implements PretrainedModel {
  abstract readonly task: PretrainedModel['task'];
  readonly architecture = 'T5ForConditionalGeneration';
  readonly basePrefix = 'transformer'; // T5PreTrainedModel.base_model_prefix; checkpoints never carry it
  readonly headPrefixes: readonly string[] = [];
  readonly peftTaskType = 'SEQ_2_SEQ_LM';
  readonly ignoredTensors: readonly RegExp[];
  readonly shared: Embedding;
  readonly encoder: T5Stack;
  readonly decoder: T5Stack;
  protected lmHead: LinearLike | undefined;
  private readonly dropout: DropoutSource;

  protected constructor(readonly config: T5Config, opts: ModelOptions = {}) {
    super();
    const init = opts.init ?? randomInit(0);
    this.shared = this.child('shared', new Embedding(config.vocabSize, config.dModel, init));
    this.encoder = this.child('encoder', new T5Stack(config, false, init));
    this.decoder = this.child('decoder', new T5Stack(config, true, init));
    if (!config.tieWordEmbeddings) this.lmHead = this.child('lm_head', linear(config.dModel, config.vocabSize, headInit(opts.init, opts.headSeed), { bias: false }));
    this.dropout = new DropoutSource(opts);
    // Copies of `shared` that HF checkpoints may also hold, and the unused cross-attention bias of old v1.0 checkpoints
    // (T5ForConditionalGeneration._keys_to_ignore_on_load_unexpected).
    this.ignoredTensors = [
      /^(encoder|decoder)\.embed_tokens\.weight$/,
      /^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/,
      ...(config.tieWordEmbeddings ? [/^lm_head\.weight$/] : []),
    ];
  }

  get numDecoderLayers(): number {
    return this.config.numDecoderLayers;
  }

  /** ids, attentionMask: int32 [B, S] → encoder output [B, S, d]. */
  encode(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Tensor3D {
    checkInt2d(ids, 'input ids');
    if (attentionMask) checkInt2d(attentionMask, 'attention mask', ids.shape[0]);
    return tf.tidy(() => {
      const S = ids.shape[1];
      const pos = this.encoder.positionBias(S, 0); // [1, nH, S, S]
      const pad = attentionMask && attentionBias(S, 0, false, attentionMask); // [B, 1, 1, S]
      const bias = (pad ? tf.add(pos, pad) : pos) as tf.Tensor4D; // HF adds the extended mask to position_bias
      return this.encoder.forward(this.shared.forward(ids) as tf.Tensor3D, bias, this.dropout.settings(opts.training));
    });
  }

  /**
   * Decoder logits [B, T, V] for decoder ids int32 [B, T] over an encoder output [B, S, d]. With a
   * cache only the new positions are fed; the cross-attention keys are computed on its first use.
   */
  decodeLogits(decoderIds: tf.Tensor2D, encoderHidden: tf.Tensor3D, opts: Seq2SeqLogitsOptions = {}): tf.Tensor3D {
    checkInt2d(decoderIds, 'decoder ids', encoderHidden.shape[0]);
    return tf.tidy(() => {
      const T = decoderIds.shape[1];
      const past = opts.cache?.length ?? 0;
      const causal = attentionBias(T, past, true)!; // [1, 1, T, past + T]
      const bias = tf.add(this.decoder.positionBias(T, past), causal) as tf.Tensor4D; // [1, nH, T, past + T]
      const crossBias = opts.encoderAttentionMask && attentionBias(encoderHidden.shape[1], 0, false, opts.encoderAttentionMask); // [B, 1, 1, S]
      const dropout = this.dropout.settings(opts.training);
      const h = this.decoder.forward(this.shared.forward(decoderIds) as tf.Tensor3D, bias, dropout, { enc: encoderHidden, crossBias, cache: opts.cache }); // [B, T, d]
      if (this.lmHead) return this.lmHead.forward(h) as tf.Tensor3D; // [B, T, V]
      // tied (v1.0): rescale before projecting with the input embeddings (T5ForConditionalGeneration.forward)
      const [B, , d] = h.shape;
      const scaled = tf.mul(tf.reshape(h, [B * T, d]), this.config.dModel ** -0.5);
      return tf.reshape(tf.matMul(scaled, this.shared.weight, false, true), [B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Encoder and decoder in one: ids, mask [B, S]; decoderIds [B, T] → logits [B, T, V]. */
  seq2seqLogits(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, decoderIds: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Tensor3D {
    return tf.tidy(() => this.decodeLogits(decoderIds, this.encode(ids, attentionMask, opts), { encoderAttentionMask: attentionMask, training: opts.training }));
  }

  /**
   * Mean cross-entropy of labels int32 [B, T] (≠ -100) with teacher forcing: the decoder reads the
   * labels shifted right behind decoder_start_token_id, as T5ForConditionalGeneration with `labels`.
   */
  seq2seqLoss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, labels: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Scalar {
    checkInt2d(labels, 'labels', ids.shape[0]);
    return tf.tidy(() => {
      const decoderIds = shiftRight(labels, this.config.decoderStartTokenId, this.config.padTokenId);
      const logits = this.seq2seqLogits(ids, attentionMask, decoderIds, opts); // [B, T, V]
      const [B, T, V] = logits.shape;
      return crossEntropy(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, tf.reshape(tf.cast(labels, 'int32'), [B * T]) as tf.Tensor1D);
    });
  }

  protected override onChildReplaced(name: string, module: Module): void {
    if (name === 'lm_head') this.lmHead = asLinear(module, name);
    else super.onChildReplaced(name, module);
  }
}

/**
 * T5ForConditionalGeneration: text in, text out. Generate with `generateSeq2Seq`.
 *
 * @example
 *   const model = new T5ForConditionalGeneration(config, { init: randomInit(1) });
 *   const loss = model.loss(ids, mask, labels); // labels int32 [B, T], -100 ignored
 */
export class T5ForConditionalGeneration extends T5Base implements Seq2SeqLM {
  readonly task = 'seq2seq-lm' as const;

  constructor(config: T5Config, opts: ModelOptions = {}) {
    super(config, opts);
  }

  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, labels: tf.Tensor2D, opts: { training?: boolean } = {}): tf.Scalar {
    return this.seq2seqLoss(ids, attentionMask, labels, opts);
  }
}

// The two model interfaces the rest of the project trains and samples from. Every model file
// (gpt2.ts, llama.ts, bert.ts, t5-classifier.ts) implements one of them; nothing outside src/models
// needs the classes. T5ForConditionalGeneration (t5.ts) is a Seq2SeqLM, used directly for generation.
import type { tf } from '../engine/tf.js';
import type { ModelConfig } from '../io/hf-config.js';
import type { Module } from './module.js';
import type { KVCache } from './kv-cache.js';
import type { Init } from './layers.js';
import type { Seq2SeqCache } from './kv-cache.js';

/** The tasks the trainer trains (AnyModel). */
export type Task = 'causal-lm' | 'sequence-classification';
/** Every model's task: an encoder-decoder used as itself is a 'seq2seq-lm'. */
export type ModelTask = Task | 'seq2seq-lm';

/** What the checkpoint loader needs to know about a model beyond its parameters. */
export interface PretrainedModel extends Module {
  readonly config: ModelConfig;
  readonly task: ModelTask;
  /** Hugging Face class name written to config.json `architectures` ("GPT2LMHeadModel"). */
  readonly architecture: string;
  /** Child holding the base model ("transformer", "model", "bert", "roberta"); Hub checkpoints of the bare base model omit it. */
  readonly basePrefix: string;
  /** Head parameters a checkpoint may lack (then freshly initialised, as Hugging Face does). */
  readonly headPrefixes: readonly string[];
  /** Checkpoint tensors the model skips (copies of a tied weight, tensors HF ignores too). */
  readonly ignoredTensors?: readonly RegExp[];
  /** adapter_config.json's task_type when it is not the task's own (T5: "SEQ_2_SEQ_LM"). */
  readonly peftTaskType?: string;
}

export interface LogitsOptions {
  /** int32 [B, S] with 1 for real tokens and 0 for padding; S = cached length + T. */
  attentionMask?: tf.Tensor2D;
  /** Keys/values of earlier positions; appended to in place. */
  cache?: KVCache;
  /** Applies the config's dropout. Default false. */
  training?: boolean;
}

export interface CausalLM extends PretrainedModel {
  readonly task: 'causal-lm';
  /** Number of decoder layers (the length of a KV cache). */
  readonly numLayers: number;
  /** Longest sequence the position embeddings allow (Infinity for rotary models). */
  readonly maxPositions: number;
  /** ids: int32 [B, T] → logits [B, T, V]. */
  logits(ids: tf.Tensor2D, opts?: LogitsOptions): tf.Tensor3D;
  /**
   * Mean cross-entropy of predicting labels[:, t+1] from positions ≤ t, over labels ≠ -100
   * (Hugging Face's shift-inside-the-model semantics). labels: int32 [B, T].
   */
  loss(ids: tf.Tensor2D, labels: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts?: { training?: boolean }): tf.Scalar;
}

export interface ClassifyOptions {
  /** BERT segment ids, int32 [B, T]; zeros when absent. */
  tokenTypeIds?: tf.Tensor2D;
  training?: boolean;
}

export interface SequenceClassifier extends PretrainedModel {
  readonly task: 'sequence-classification';
  readonly numLabels: number;
  /** ids, attentionMask: int32 [B, T] → logits [B, numLabels]. */
  classify(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, opts?: ClassifyOptions): tf.Tensor2D;
  /** Mean cross-entropy over the batch (mean squared error when numLabels is 1). labels: int32 [B]. */
  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D, labels: tf.Tensor1D, opts?: ClassifyOptions): tf.Scalar;
}

export type AnyModel = CausalLM | SequenceClassifier;

export interface Seq2SeqLogitsOptions {
  /** int32 [B, S] mask of the encoder input (1 = token, 0 = padding). */
  encoderAttentionMask?: tf.Tensor2D;
  /** Decoder keys/values of earlier positions and the encoder's cross-attention keys; appended to in place. */
  cache?: Seq2SeqCache;
  training?: boolean;
}

/** An encoder-decoder LM (T5ForConditionalGeneration). */
export interface Seq2SeqLM extends PretrainedModel {
  readonly task: 'seq2seq-lm';
  readonly numDecoderLayers: number;
  /** ids, attentionMask int32 [B, S] → encoder output [B, S, d]. */
  encode(ids: tf.Tensor2D, attentionMask?: tf.Tensor2D, opts?: { training?: boolean }): tf.Tensor3D;
  /** decoder ids int32 [B, T] → logits [B, T, V]. */
  decodeLogits(decoderIds: tf.Tensor2D, encoderHidden: tf.Tensor3D, opts?: Seq2SeqLogitsOptions): tf.Tensor3D;
  /** Mean cross-entropy of labels int32 [B, T] (≠ -100), the decoder reading them shifted right. */
  loss(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, labels: tf.Tensor2D, opts?: { training?: boolean }): tf.Scalar;
}

/**
 * A classifier that generates its label as text (T5 on GLUE): each label is a target token sequence,
 * `loss` is the sequence-to-sequence loss of the gold label's, `classify` scores every label's
 * log-likelihood. Its targets must be set (from the label names) before either is called.
 */
export interface TextToTextClassifier extends SequenceClassifier {
  readonly textToText: true;
  /** One target token sequence per label (ending in EOS), all different. */
  setLabelTargets(targets: readonly (readonly number[])[]): void;
  readonly labelTargets: readonly (readonly number[])[] | undefined;
}

export function isTextToText(m: PretrainedModel): m is TextToTextClassifier {
  return (m as Partial<TextToTextClassifier>).textToText === true;
}

export function isCausalLM(m: AnyModel): m is CausalLM {
  return m.task === 'causal-lm';
}

/** Construction options shared by every model class. */
export interface ModelOptions {
  /** Seeded normal init (default `randomInit(0)`), or zeros for weights a checkpoint will fill. */
  init?: Init;
  /** Seed of the head's initial weights, drawn even when the backbone is zero-filled for loading. */
  headSeed?: number;
  /** Classification labels; default config.numLabels. */
  numLabels?: number;
  /** Dropout rates applied when `training` is set (config.json's dropout fields are not parsed). Default 0. */
  dropout?: { hidden?: number; attention?: number };
  /** Seed of the dropout masks. Default 0. */
  dropoutSeed?: number;
}

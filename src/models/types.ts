// The two model interfaces the rest of the project trains and samples from. Every model file
// (gpt2.ts, llama.ts, bert.ts) implements one of them; nothing outside src/models needs the classes.
import type { tf } from '../engine/tf.js';
import type { ModelConfig } from '../io/hf-config.js';
import type { Module } from './module.js';
import type { KVCache } from './kv-cache.js';
import type { Init } from './layers.js';

export type Task = 'causal-lm' | 'sequence-classification';

/** What the checkpoint loader needs to know about a model beyond its parameters. */
export interface PretrainedModel extends Module {
  readonly config: ModelConfig;
  readonly task: Task;
  /** Hugging Face class name written to config.json `architectures` ("GPT2LMHeadModel"). */
  readonly architecture: string;
  /** Child holding the base model ("transformer", "model", "bert", "roberta"); Hub checkpoints of the bare base model omit it. */
  readonly basePrefix: string;
  /** Head parameters a checkpoint may lack (then freshly initialised, as Hugging Face does). */
  readonly headPrefixes: readonly string[];
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

// Picks the model class for a config and task, as Hugging Face's AutoModelFor* do.
import type { ModelConfig } from '../io/hf-config.js';
import { BertForSequenceClassification } from './bert.js';
import { GPT2ForSequenceClassification, GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM, LlamaForSequenceClassification } from './llama.js';
import { T5ForTextToTextClassification } from './t5-classifier.js';
import type { AnyModel, CausalLM, ModelOptions, SequenceClassifier, Task } from './types.js';

/**
 * The task a config was saved for: its `architectures`, else causal-lm for decoders, classification
 * for encoders and for T5 (text-to-text: the label is generated as a word).
 */
export function defaultTask(config: ModelConfig): Task {
  if (config.modelType === 't5') return 'sequence-classification';
  if (config.architectures?.some((a) => a.endsWith('ForSequenceClassification'))) return 'sequence-classification';
  return config.modelType === 'bert' || config.modelType === 'roberta' ? 'sequence-classification' : 'causal-lm';
}

/** The config a model of `numLabels` labels carries: labels names dropped when the count changes. */
function withNumLabels(config: ModelConfig, numLabels: number | undefined): ModelConfig {
  if (numLabels === undefined || numLabels === config.numLabels) return config;
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new Error(`numLabels must be a positive integer, got ${numLabels}`);
  return { ...config, numLabels, id2label: undefined, label2id: undefined };
}

/**
 * A model for `config` and `task` (default `defaultTask(config)`), seeded-random unless `opts.init`
 * says zeros (the checkpoint loader's choice).
 *
 * @example
 *   const model = createModel(config, { task: 'sequence-classification', numLabels: 3, init: randomInit(7) });
 */
export function createModel(config: ModelConfig, opts: ModelOptions & { task: 'causal-lm' }): CausalLM;
export function createModel(config: ModelConfig, opts: ModelOptions & { task: 'sequence-classification' }): SequenceClassifier;
export function createModel(config: ModelConfig, opts?: ModelOptions & { task?: Task }): AnyModel;
export function createModel(config: ModelConfig, opts: ModelOptions & { task?: Task } = {}): AnyModel {
  const task = opts.task ?? defaultTask(config);
  const cfg = task === 'sequence-classification' ? withNumLabels(config, opts.numLabels) : config;
  const modelOpts: ModelOptions = { ...opts, numLabels: cfg.numLabels };
  switch (cfg.modelType) {
    case 'gpt2':
      return task === 'causal-lm' ? new GPT2LMHeadModel(cfg, modelOpts) : new GPT2ForSequenceClassification(cfg, modelOpts);
    case 'llama':
    case 'qwen2':
    case 'mistral':
      return task === 'causal-lm' ? new LlamaForCausalLM(cfg, modelOpts) : new LlamaForSequenceClassification(cfg, modelOpts);
    case 'bert':
    case 'roberta':
      if (task === 'causal-lm') throw new Error(`${cfg.modelType} is an encoder: only task "sequence-classification" is supported, got "causal-lm"`);
      return new BertForSequenceClassification(cfg, modelOpts);
    case 't5':
      if (task === 'causal-lm') {
        throw new Error('t5 is an encoder-decoder, trained here as a text-to-text classifier (--task classification), not as a causal LM; for text generation use loadSeq2SeqLM and generateSeq2Seq');
      }
      return new T5ForTextToTextClassification(cfg, modelOpts);
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelConfigToJson, parseModelConfig, readModelConfig, type BertConfig, type Gpt2Config, type LlamaConfig } from './hf-config.js';

// Real config.json files from the Hub (abridged only where noted); expected values below are read
// off these files and the transformers config classes' defaults, not from the parser.
const SRC = '/models/x/config.json';

const GPT2 = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

// meta-llama/Llama-3.2-1B: GQA (32 query heads, 8 kv heads) and llama3 RoPE scaling.
const LLAMA32 = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

// Qwen/Qwen2.5-0.5B
const QWEN2 = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.40.1',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// mistralai/Mistral-7B-v0.1
const MISTRAL = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  transformers_version: '4.34.0.dev0',
  use_cache: true,
  vocab_size: 32000,
};

// google-bert/bert-base-uncased
const BERT = {
  architectures: ['BertForMaskedLM'],
  attention_probs_dropout_prob: 0.1,
  gradient_checkpointing: false,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: 'bert',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  transformers_version: '4.6.0.dev0',
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30522,
};

// FacebookAI/roberta-base with a three-way sentiment head's labels, as a fine-tune saves them.
const ROBERTA = {
  architectures: ['RobertaForSequenceClassification'],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  id2label: { '0': 'negative', '1': 'neutral', '2': 'positive' },
  initializer_range: 0.02,
  intermediate_size: 3072,
  label2id: { negative: 0, neutral: 1, positive: 2 },
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: 'roberta',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  type_vocab_size: 1,
  vocab_size: 50265,
};

test('gpt2 config.json parses to GPT-2 small', () => {
  const c = parseModelConfig(GPT2, SRC) as Gpt2Config;
  assert.equal(c.modelType, 'gpt2');
  assert.deepEqual(
    [c.vocabSize, c.nPositions, c.nEmbd, c.nLayer, c.nHead, c.nInner, c.activation, c.layerNormEpsilon],
    [50257, 1024, 768, 12, 12, 3072, 'gelu_new', 1e-5], // n_inner absent → 4 × 768
  );
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.scaleAttnWeights, true);
  assert.equal(c.scaleAttnByInverseLayerIdx, false);
  assert.equal(c.bosTokenId, 50256);
  assert.equal(c.eosTokenId, 50256);
  assert.equal(c.padTokenId, undefined);
  assert.equal(c.numLabels, 2);
  assert.deepEqual(c.architectures, ['GPT2LMHeadModel']);
  assert.deepEqual(c.raw, GPT2);
});

test('llama 3.2 config.json: GQA, explicit head_dim and llama3 rope scaling', () => {
  const c = parseModelConfig(LLAMA32, SRC) as LlamaConfig;
  assert.equal(c.modelType, 'llama');
  assert.deepEqual(
    [c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim],
    [128256, 2048, 8192, 16, 32, 8, 64],
  );
  assert.equal(c.maxPositionEmbeddings, 131072);
  assert.equal(c.rmsNormEps, 1e-5);
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.deepEqual([c.attentionBias, c.qkvBias, c.oBias, c.mlpBias], [false, false, false, false]);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.hiddenAct, 'silu');
  assert.equal(c.slidingWindow, undefined);
  assert.deepEqual([c.bosTokenId, c.eosTokenId], [128000, 128001]);
});

test('llama attention_bias puts a bias on q, k, v and o alike', () => {
  const c = parseModelConfig({ ...LLAMA32, attention_bias: true, mlp_bias: true }, SRC) as LlamaConfig;
  assert.deepEqual([c.attentionBias, c.qkvBias, c.oBias, c.mlpBias], [true, true, true, true]);
});

test('llama eos_token_id may be a list', () => {
  const c = parseModelConfig({ ...LLAMA32, eos_token_id: [128001, 128008, 128009] }, SRC) as LlamaConfig;
  assert.deepEqual(c.eosTokenId, [128001, 128008, 128009]);
});

test('qwen2 config.json: q/k/v biases without an o_proj bias, rope_theta 1e6, no sliding window', () => {
  const c = parseModelConfig(QWEN2, SRC) as LlamaConfig;
  assert.equal(c.modelType, 'qwen2');
  assert.deepEqual([c.hiddenSize, c.numAttentionHeads, c.numKeyValueHeads, c.headDim], [896, 14, 2, 64]); // 896 / 14
  assert.deepEqual([c.qkvBias, c.oBias, c.mlpBias], [true, false, false]);
  assert.equal(c.attentionBias, true);
  assert.equal(c.ropeTheta, 1e6);
  assert.equal(c.ropeScaling, undefined);
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.slidingWindow, undefined); // use_sliding_window false
  const windowed = parseModelConfig({ ...QWEN2, use_sliding_window: true }, SRC) as LlamaConfig;
  assert.equal(windowed.slidingWindow, 32768);
});

test('mistral config.json: sliding window recorded; null means none', () => {
  const c = parseModelConfig(MISTRAL, SRC) as LlamaConfig;
  assert.equal(c.modelType, 'mistral');
  assert.deepEqual([c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize], [32, 8, 128, 14336]);
  assert.equal(c.slidingWindow, 4096);
  assert.deepEqual([c.qkvBias, c.oBias, c.mlpBias, c.attentionBias], [false, false, false, false]);
  // Mistral-7B-Instruct-v0.2 turns the window off and raises rope_theta.
  const v02 = parseModelConfig({ ...MISTRAL, sliding_window: null, rope_theta: 1000000.0 }, SRC) as LlamaConfig;
  assert.equal(v02.slidingWindow, undefined);
  assert.equal('slidingWindow' in v02, false);
  assert.equal(v02.ropeTheta, 1e6);
});

test('bert and roberta config.json', () => {
  const b = parseModelConfig(BERT, SRC) as BertConfig;
  assert.deepEqual(
    [b.modelType, b.vocabSize, b.hiddenSize, b.numHiddenLayers, b.numAttentionHeads, b.intermediateSize],
    ['bert', 30522, 768, 12, 12, 3072],
  );
  assert.deepEqual([b.hiddenAct, b.maxPositionEmbeddings, b.typeVocabSize, b.layerNormEps, b.padTokenId], ['gelu', 512, 2, 1e-12, 0]);
  assert.equal(b.numLabels, 2);

  const r = parseModelConfig(ROBERTA, SRC) as BertConfig;
  assert.deepEqual([r.modelType, r.vocabSize, r.maxPositionEmbeddings, r.typeVocabSize, r.layerNormEps], ['roberta', 50265, 514, 1, 1e-5]);
  assert.deepEqual([r.padTokenId, r.bosTokenId, r.eosTokenId], [1, 0, 2]);
  assert.equal(r.numLabels, 3);
  assert.deepEqual(r.id2label, { 0: 'negative', 1: 'neutral', 2: 'positive' });
  assert.equal(r.id2label![2], 'positive'); // keys are numbers now
  assert.deepEqual(r.label2id, { negative: 0, neutral: 1, positive: 2 });
});

test('minimal configs take the transformers class defaults', () => {
  const g = parseModelConfig({ model_type: 'gpt2', vocab_size: 10, n_embd: 8, n_layer: 1, n_head: 2 }, SRC) as Gpt2Config;
  assert.deepEqual(
    [g.nPositions, g.nInner, g.activation, g.layerNormEpsilon, g.tieWordEmbeddings, g.bosTokenId, g.eosTokenId],
    [1024, 32, 'gelu_new', 1e-5, true, 50256, 50256],
  );

  const decoder = { vocab_size: 10, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 32 };
  const l = parseModelConfig({ model_type: 'llama', ...decoder }, SRC) as LlamaConfig;
  assert.deepEqual(
    [l.numKeyValueHeads, l.headDim, l.maxPositionEmbeddings, l.rmsNormEps, l.ropeTheta, l.hiddenAct, l.tieWordEmbeddings],
    [32, 2, 2048, 1e-6, 10000, 'silu', false],
  );
  assert.deepEqual([l.attentionBias, l.mlpBias, l.bosTokenId, l.eosTokenId, l.ropeScaling], [false, false, 1, 2, undefined]);

  // Qwen2Config defaults num_key_value_heads to 32 and MistralConfig to 8 (not to num_attention_heads).
  const q = parseModelConfig({ model_type: 'qwen2', ...decoder }, SRC) as LlamaConfig;
  assert.deepEqual([q.numKeyValueHeads, q.maxPositionEmbeddings, q.ropeTheta, q.tieWordEmbeddings, q.bosTokenId], [32, 32768, 10000, false, undefined]);
  const m = parseModelConfig({ model_type: 'mistral', ...decoder }, SRC) as LlamaConfig;
  assert.deepEqual([m.numKeyValueHeads, m.maxPositionEmbeddings, m.slidingWindow, m.bosTokenId], [8, 131072, 4096, 1]);

  const encoder = { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };
  const b = parseModelConfig({ model_type: 'bert', ...encoder }, SRC) as BertConfig;
  assert.deepEqual([b.hiddenAct, b.maxPositionEmbeddings, b.typeVocabSize, b.layerNormEps, b.padTokenId], ['gelu', 512, 2, 1e-12, 0]);
  const r = parseModelConfig({ model_type: 'roberta', ...encoder }, SRC) as BertConfig;
  assert.deepEqual([r.padTokenId, r.bosTokenId, r.eosTokenId], [1, 0, 2]);
});

test('head_dim, when given, need not divide hidden_size', () => {
  const c = parseModelConfig({ ...MISTRAL, hidden_size: 5120, num_attention_heads: 32, head_dim: 128 }, SRC) as LlamaConfig;
  assert.equal(c.headDim, 128); // Mistral-Nemo: 32 × 128 ≠ 5120
});

test('rope_parameters (newer form) may carry rope_theta', () => {
  const { rope_scaling: _s, rope_theta: _t, ...rest } = LLAMA32;
  const rope_parameters = { rope_type: 'llama3', rope_theta: 500000.0, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 };
  const c = parseModelConfig({ ...rest, rope_parameters }, SRC) as LlamaConfig;
  assert.equal(c.ropeTheta, 500000);
  assert.deepEqual(c.ropeScaling, { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });

  const plain = parseModelConfig({ ...QWEN2, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } }, SRC) as LlamaConfig;
  assert.equal(plain.ropeTheta, 1e6);
  assert.equal(plain.ropeScaling, undefined);

  const linear = parseModelConfig({ ...MISTRAL, rope_scaling: { type: 'linear', factor: 4.0 } }, SRC) as LlamaConfig;
  assert.deepEqual(linear.ropeScaling, { type: 'linear', factor: 4 });
  assert.equal(linear.ropeTheta, 10000);
  const none = parseModelConfig({ ...MISTRAL, rope_scaling: null }, SRC) as LlamaConfig;
  assert.equal(none.ropeScaling, undefined);
});

test('num_labels comes from id2label, else num_labels, else 2', () => {
  assert.equal(parseModelConfig({ ...BERT, num_labels: 5 }, SRC).numLabels, 5);
  assert.equal(parseModelConfig({ ...BERT, num_labels: 5, id2label: { '0': 'a', '1': 'b' } }, SRC).numLabels, 2);
  assert.equal(parseModelConfig(BERT, SRC).numLabels, 2);
});

test('unknown keys are ignored but kept in raw', () => {
  const json = { ...GPT2, some_future_flag: { nested: [1, 2] }, n_special: 0 };
  const c = parseModelConfig(json, SRC);
  assert.deepEqual(c.raw, json);
});

test('configs are frozen, deeply, and the caller’s JSON is not', () => {
  const json = structuredClone(LLAMA32);
  const c = parseModelConfig(json, SRC) as LlamaConfig;
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.ropeScaling) && Object.isFrozen(c.raw) && Object.isFrozen(c.raw.rope_scaling));
  assert.throws(() => {
    (c as { hiddenSize: number }).hiddenSize = 1;
  }, TypeError);
  assert.equal(Object.isFrozen(json), false);
});

// Each bad config must be refused with the source file, the key and the bad value in the message.
const BAD: Array<[string, Record<string, unknown>, RegExp]> = [
  ['missing vocab_size', { ...LLAMA32, vocab_size: undefined }, /config\.json: missing required key "vocab_size"/],
  ['missing intermediate_size (llama)', { ...QWEN2, intermediate_size: undefined }, /missing required key "intermediate_size"/],
  ['missing intermediate_size (bert)', { ...BERT, intermediate_size: undefined }, /missing required key "intermediate_size"/],
  ['missing n_embd', { ...GPT2, n_embd: undefined }, /missing required key "n_embd" \(or "hidden_size"\)/],
  ['missing n_layer', { ...GPT2, n_layer: undefined }, /missing required key "n_layer"/],
  ['missing num_hidden_layers', { ...BERT, num_hidden_layers: undefined }, /missing required key "num_hidden_layers"/],
  ['heads as a string', { ...BERT, num_attention_heads: '12' }, /"num_attention_heads" must be a positive integer, got "12"/],
  ['zero hidden_size', { ...LLAMA32, hidden_size: 0 }, /"hidden_size" must be a positive integer, got 0/],
  ['fractional layers', { ...GPT2, n_layer: 1.5 }, /"n_layer" must be a positive integer, got 1\.5/],
  ['negative rms_norm_eps', { ...MISTRAL, rms_norm_eps: -1e-5 }, /"rms_norm_eps" must be a positive number, got -0\.00001/],
  ['tie_word_embeddings as a string', { ...QWEN2, tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be true or false, got "yes"/],
  ['hidden not divisible by heads', { ...MISTRAL, hidden_size: 4100 }, /"hidden_size" \(4100\) must be divisible by "num_attention_heads" \(32\)/],
  ['gpt2 n_embd not divisible by n_head', { ...GPT2, n_head: 7 }, /"n_embd" \(768\) must be divisible by "n_head" \(7\)/],
  ['heads not divisible by kv heads', { ...LLAMA32, num_key_value_heads: 5 }, /"num_attention_heads" \(32\) must be divisible by "num_key_value_heads" \(5\)/],
  ['unsupported model_type', { ...GPT2, model_type: 'bart' }, /model_type "bart" is not supported \(supported: gpt2, llama, qwen2, mistral, bert, roberta, t5\)/],
  ['missing model_type', { ...GPT2, model_type: undefined }, /missing required key "model_type" \(supported: gpt2, llama/],
  ['dynamic rope', { ...LLAMA32, rope_scaling: { type: 'dynamic', factor: 2.0 } }, /rope_scaling\.type "dynamic" is not supported \(supported: default, linear, llama3\)/],
  ['yarn rope_parameters', { ...QWEN2, rope_parameters: { rope_type: 'yarn', factor: 4.0 } }, /rope_parameters\.rope_type "yarn" is not supported/],
  ['llama3 rope without low_freq_factor', { ...LLAMA32, rope_scaling: { ...LLAMA32.rope_scaling, low_freq_factor: undefined } }, /missing required key "rope_scaling\.low_freq_factor"/],
  ['linear rope with a zero factor', { ...LLAMA32, rope_scaling: { rope_type: 'linear', factor: 0 } }, /"rope_scaling\.factor" must be a positive number, got 0/],
  ['id2label with a non-integer key', { ...BERT, id2label: { x: 'a' } }, /"id2label" must be keyed by label ids .*got "x"/],
  ['relative position embeddings', { ...BERT, position_embedding_type: 'relative_key' }, /"position_embedding_type" must be "absolute".*got "relative_key"/],
  ['eos_token_id as a string', { ...LLAMA32, eos_token_id: '2' }, /"eos_token_id" must be a token id or a list of token ids, got "2"/],
];

for (const [name, json, pattern] of BAD) {
  test(`refused: ${name}`, () => {
    const cleaned = JSON.parse(JSON.stringify(json)); // drops the undefined keys, as a real file would lack them
    assert.throws(() => parseModelConfig(cleaned, SRC), (err: Error) => {
      assert.match(err.message, pattern);
      assert.ok(err.message.startsWith(`${SRC}: `), err.message);
      return true;
    });
  });
}

test('refused: a config that is not a JSON object', () => {
  assert.throws(() => parseModelConfig([1, 2], SRC), /\/models\/x\/config\.json: config must be a JSON object, got \[1,2\]/);
});

test('readModelConfig reads dir/config.json and names the path when it cannot', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lorapro-config-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(QWEN2));
  const c = await readModelConfig(dir);
  assert.equal(c.modelType, 'qwen2');

  const empty = mkdtempSync(join(tmpdir(), 'lorapro-config-'));
  await assert.rejects(readModelConfig(empty), new RegExp(`${join(empty, 'config.json')} not found`));

  const broken = mkdtempSync(join(tmpdir(), 'lorapro-config-'));
  writeFileSync(join(broken, 'config.json'), '{"model_type": "gpt2",');
  await assert.rejects(readModelConfig(broken), new RegExp(`${join(broken, 'config.json')}: not valid JSON`));

  const bad = mkdtempSync(join(tmpdir(), 'lorapro-config-'));
  writeFileSync(join(bad, 'config.json'), JSON.stringify({ ...GPT2, n_head: 0 }));
  await assert.rejects(readModelConfig(bad), new RegExp(`${join(bad, 'config.json')}: "n_head" must be a positive integer, got 0`));
});

test('modelConfigToJson gives raw back for an unchanged config', () => {
  for (const json of [GPT2, LLAMA32, QWEN2, MISTRAL, BERT, ROBERTA]) {
    assert.deepEqual(modelConfigToJson(parseModelConfig(json, SRC)), json);
  }
});

test('modelConfigToJson writes changed values under their HF keys', () => {
  const llama = parseModelConfig(LLAMA32, SRC) as LlamaConfig;
  const changed: LlamaConfig = { ...llama, numKeyValueHeads: 4, ropeTheta: 1e6, ropeScaling: { type: 'linear', factor: 2 }, numLabels: 3 };
  const json = modelConfigToJson(changed);
  assert.equal(json.num_key_value_heads, 4);
  assert.equal(json.rope_theta, 1e6);
  assert.deepEqual(json.rope_scaling, { rope_type: 'linear', factor: 2 });
  assert.deepEqual(json.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  assert.deepEqual(json.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 });
  assert.equal(json.pretraining_tp, 1); // untouched raw keys stay
  const back = parseModelConfig(json, SRC) as LlamaConfig;
  assert.deepEqual([back.numKeyValueHeads, back.ropeTheta, back.ropeScaling, back.numLabels], [4, 1e6, { type: 'linear', factor: 2 }, 3]);

  // A config in the rope_parameters form is written back in that form.
  const { rope_scaling: _s, rope_theta: _t, ...rest } = LLAMA32;
  const v5 = parseModelConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 1e4 } }, SRC) as LlamaConfig;
  const v5json = modelConfigToJson({ ...v5, ropeTheta: 5e5 });
  assert.deepEqual(v5json.rope_parameters, { rope_type: 'default', rope_theta: 5e5 });
  assert.equal('rope_theta' in v5json, false);

  const gpt2 = parseModelConfig(GPT2, SRC) as Gpt2Config;
  const gjson = modelConfigToJson({ ...gpt2, nPositions: 512, padTokenId: 50256 });
  assert.deepEqual([gjson.n_positions, gjson.pad_token_id, gjson.n_inner], [512, 50256, undefined]); // n_inner unchanged: not written
});

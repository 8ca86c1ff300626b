// Hugging Face config.json → typed, frozen model configs. The only place HF's snake_case config
// fields are read; the rest of the project uses these camelCase types. Defaults follow the
// transformers config classes (GPT2Config, LlamaConfig, Qwen2Config, MistralConfig, BertConfig,
// RobertaConfig, T5Config); `modelConfigToJson` is the way back for savePretrained.
import { InputFileError } from './input-error.js';
import { JsonFields, asJsonObject, deepFreeze, describeValue, type JsonObject } from './json-fields.js';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

/** Fields every supported config carries. */
interface CommonConfig {
  readonly vocabSize: number; // vocab_size
  readonly numLabels: number; // len(id2label) ?? num_labels ?? 2
  readonly id2label?: Readonly<Record<number, string>>; // JSON keys are strings; converted to numbers
  readonly label2id?: Readonly<Record<string, number>>;
  readonly architectures?: readonly string[];
  readonly raw: Readonly<Record<string, unknown>>; // the parsed JSON, for writing back unchanged
}

export interface Gpt2Config extends CommonConfig {
  readonly modelType: 'gpt2';
  readonly nPositions: number; // n_positions, default 1024
  readonly nEmbd: number; // n_embd
  readonly nLayer: number; // n_layer
  readonly nHead: number; // n_head
  readonly nInner: number; // n_inner ?? 4 * n_embd
  readonly activation: string; // activation_function, default "gelu_new"
  readonly layerNormEpsilon: number; // layer_norm_epsilon, default 1e-5
  readonly tieWordEmbeddings: boolean; // default true
  readonly scaleAttnWeights: boolean; // scale_attn_weights, default true (divide scores by √headDim)
  readonly scaleAttnByInverseLayerIdx: boolean; // scale_attn_by_inverse_layer_idx, default false
  readonly padTokenId?: number;
  readonly bosTokenId?: number; // default 50256
  readonly eosTokenId?: number | readonly number[]; // default 50256
}

/** llama, qwen2 and mistral share this shape. */
export interface LlamaConfig extends CommonConfig {
  readonly modelType: 'llama' | 'qwen2' | 'mistral';
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number; // llama: default numAttentionHeads; HF defaults qwen2 to 32, mistral to 8
  readonly headDim: number; // head_dim ?? hidden_size / num_attention_heads
  readonly maxPositionEmbeddings: number; // llama 2048, qwen2 32768, mistral 131072 by default
  readonly rmsNormEps: number; // default 1e-6
  readonly ropeTheta: number; // rope_parameters.rope_theta ?? rope_theta, default 10000
  readonly ropeScaling?: RopeScaling; // rope_scaling / rope_parameters; others refused
  readonly hiddenAct: string; // default "silu"
  readonly attentionBias: boolean; // llama: attention_bias (default false); qwen2: true (its q/k/v biases); mistral: false
  readonly qkvBias: boolean; // q_proj/k_proj/v_proj have a bias: llama attention_bias, qwen2 true, mistral false
  readonly oBias: boolean; // o_proj has a bias: llama attention_bias, qwen2 false, mistral false
  readonly mlpBias: boolean; // llama mlp_bias (default false); qwen2/mistral false
  readonly tieWordEmbeddings: boolean; // default false
  readonly slidingWindow?: number; // mistral sliding_window (default 4096); qwen2 only with use_sliding_window
  readonly padTokenId?: number;
  readonly bosTokenId?: number; // llama/mistral default 1
  readonly eosTokenId?: number | readonly number[]; // llama/mistral default 2
}

/** bert and roberta encoders. */
export interface BertConfig extends CommonConfig {
  readonly modelType: 'bert' | 'roberta';
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly intermediateSize: number;
  readonly hiddenAct: string; // default "gelu"
  // RoBERTa numbers positions from padding_idx + 1 = 2 (HF create_position_ids_from_input_ids),
  // which is why its checkpoints have 514 = 512 + 2 position rows; the model adds that offset.
  readonly maxPositionEmbeddings: number; // default 512
  readonly typeVocabSize: number; // default 2 (roberta checkpoints use 1)
  readonly layerNormEps: number; // default 1e-12 (roberta checkpoints use 1e-5)
  readonly padTokenId: number; // default 0 (roberta: 1)
  readonly bosTokenId?: number; // roberta default 0
  readonly eosTokenId?: number | readonly number[]; // roberta default 2
}

/**
 * T5 encoder-decoder (T5Config in transformers' configuration_t5.py). v1.0 checkpoints ("relu",
 * tied embeddings) scale the decoder output by d_model^-0.5 before the tied lm_head; v1.1 / flan-t5
 * ("gated-gelu", untied) do not.
 */
export interface T5Config extends CommonConfig {
  readonly modelType: 't5';
  readonly dModel: number; // d_model, default 512
  readonly dKv: number; // d_kv, default 64 (need not be d_model / num_heads)
  readonly dFf: number; // d_ff, default 2048
  readonly numLayers: number; // num_layers (encoder), default 6
  readonly numDecoderLayers: number; // num_decoder_layers ?? num_layers
  readonly numHeads: number; // num_heads, default 8
  readonly relativeAttentionNumBuckets: number; // default 32
  readonly relativeAttentionMaxDistance: number; // default 128
  readonly dropoutRate: number; // dropout_rate, default 0.1 (applied only when a run asks for dropout)
  readonly layerNormEpsilon: number; // layer_norm_epsilon, default 1e-6
  readonly feedForwardProj: string; // "relu" | "gated-gelu" | "gated-ACT" | "ACT"
  readonly denseActFn: string; // the activation: "gated-gelu" → "gelu_new", as T5Config does
  readonly isGatedAct: boolean; // wi_0 / wi_1 instead of wi
  readonly tieWordEmbeddings: boolean; // default true
  readonly isEncoderDecoder: boolean; // default true; false is refused
  readonly decoderStartTokenId: number; // decoder_start_token_id ?? pad_token_id (T5 starts decoding from pad)
  readonly padTokenId: number; // default 0
  readonly eosTokenId?: number | readonly number[]; // default 1
}

export type ModelConfig = Gpt2Config | LlamaConfig | BertConfig | T5Config;

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2', 'mistral', 'bert', 'roberta', 't5'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'];

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Common = Omit<CommonConfig, 'vocabSize' | 'raw'>;

/** A token id whose key, when present but null, means "none" rather than the class default. */
function tokenId(f: JsonFields, key: string, fallback: number | undefined): number | undefined {
  return key in f.obj ? f.optionalNonNegativeInt(key) : fallback;
}

function eosTokenId(f: JsonFields, fallback: number | undefined): number | number[] | undefined {
  return 'eos_token_id' in f.obj ? f.optionalTokenIds('eos_token_id') : fallback;
}

function requireDivisible(f: JsonFields, key: string, value: number, byKey: string, by: number, why = ''): void {
  if (value % by !== 0) {
    throw new InputFileError(f.source, `${f.source}: "${key}" (${value}) must be divisible by "${byKey}" (${by})${why}`);
  }
}

/** num_labels from id2label (string keys in JSON) when present, else num_labels, else 2. */
function parseLabels(f: JsonFields): Common {
  const out: Mutable<Common> = { numLabels: 2 };
  const architectures = f.optionalStringList('architectures');
  if (architectures) out.architectures = architectures;
  const id2 = f.optionalObject('id2label');
  if (id2) {
    const id2label: Record<number, string> = {};
    for (const [key, label] of Object.entries(id2)) {
      if (!/^\d+$/.test(key)) f.fail('id2label', 'keyed by label ids ("0", "1", ...)', key);
      if (typeof label !== 'string') f.fail(`id2label.${key}`, 'a string', label);
      id2label[Number(key)] = label;
    }
    if (Object.keys(id2label).length === 0) f.fail('id2label', 'a non-empty object', id2);
    out.id2label = id2label;
  }
  const l2i = f.optionalObject('label2id');
  if (l2i) {
    for (const [label, id] of Object.entries(l2i)) {
      if (!Number.isInteger(id) || (id as number) < 0) f.fail(`label2id.${label}`, 'a non-negative integer', id);
    }
    out.label2id = l2i as Record<string, number>;
  }
  out.numLabels = out.id2label ? Object.keys(out.id2label).length : f.positiveInt('num_labels', 2);
  return out;
}

/** RoPE from the newer `rope_parameters` (which may hold rope_theta) or the older `rope_scaling`. */
function parseRope(f: JsonFields): { ropeTheta: number; ropeScaling?: RopeScaling } {
  const params = f.optionalObject('rope_parameters');
  const spec = params ?? f.optionalObject('rope_scaling');
  const inner = spec ? new JsonFields(spec, f.source, params ? 'rope_parameters.' : 'rope_scaling.') : undefined;
  const ropeTheta = inner?.has('rope_theta') ? inner.positiveNumber('rope_theta') : f.positiveNumber('rope_theta', 10000);
  if (!inner) return { ropeTheta };
  const typeKey = inner.keyOf(['rope_type', 'type']) ?? 'rope_type';
  const type = inner.string(['rope_type', 'type'], 'default');
  if (type === 'default') return { ropeTheta };
  if (type === 'linear') return { ropeTheta, ropeScaling: { type, factor: inner.positiveNumber('factor') } };
  if (type === 'llama3') {
    const lowFreqFactor = inner.positiveNumber('low_freq_factor');
    const highFreqFactor = inner.positiveNumber('high_freq_factor');
    if (highFreqFactor <= lowFreqFactor) inner.fail('high_freq_factor', `greater than low_freq_factor (${lowFreqFactor})`, highFreqFactor);
    const ropeScaling: RopeScaling = {
      type,
      factor: inner.positiveNumber('factor'),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositionEmbeddings: inner.positiveInt('original_max_position_embeddings'),
    };
    return { ropeTheta, ropeScaling };
  }
  throw new InputFileError(
    f.source,
    `${f.source}: ${inner.prefix}${typeKey} ${describeValue(type)} is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(', ')})`,
  );
}

function parseGpt2(f: JsonFields): Mutable<Gpt2Config> {
  const nEmbd = f.positiveInt(['n_embd', 'hidden_size']);
  const nHead = f.positiveInt(['n_head', 'num_attention_heads']);
  requireDivisible(f, f.keyOf(['n_embd', 'hidden_size'])!, nEmbd, f.keyOf(['n_head', 'num_attention_heads'])!, nHead);
  return {
    modelType: 'gpt2',
    vocabSize: f.positiveInt('vocab_size'),
    nPositions: f.positiveInt(['n_positions', 'max_position_embeddings'], 1024),
    nEmbd,
    nLayer: f.positiveInt(['n_layer', 'num_hidden_layers']),
    nHead,
    nInner: f.positiveInt('n_inner', 4 * nEmbd),
    activation: f.string('activation_function', 'gelu_new'),
    layerNormEpsilon: f.positiveNumber('layer_norm_epsilon', 1e-5),
    tieWordEmbeddings: f.boolean('tie_word_embeddings', true),
    scaleAttnWeights: f.boolean('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: f.boolean('scale_attn_by_inverse_layer_idx', false),
    padTokenId: tokenId(f, 'pad_token_id', undefined),
    bosTokenId: tokenId(f, 'bos_token_id', 50256),
    eosTokenId: eosTokenId(f, 50256),
    ...parseLabels(f),
    raw: f.obj,
  };
}

/** Where the three decoder families differ from LlamaConfig's defaults. */
const LLAMA_FAMILY = {
  llama: { maxPositions: 2048, kvHeads: undefined, bosTokenId: 1, eosTokenId: 2 },
  qwen2: { maxPositions: 32768, kvHeads: 32, bosTokenId: undefined, eosTokenId: undefined },
  mistral: { maxPositions: 4096 * 32, kvHeads: 8, bosTokenId: 1, eosTokenId: 2 },
} as const;

/** q/k/v, o and MLP biases: llama reads its flags, qwen2 hard-codes q/k/v biases, mistral has none. */
function parseBiases(f: JsonFields, modelType: LlamaConfig['modelType']) {
  if (modelType === 'qwen2') return { attentionBias: true, qkvBias: true, oBias: false, mlpBias: false };
  if (modelType === 'mistral') return { attentionBias: false, qkvBias: false, oBias: false, mlpBias: false };
  const attentionBias = f.boolean('attention_bias', false);
  return { attentionBias, qkvBias: attentionBias, oBias: attentionBias, mlpBias: f.boolean('mlp_bias', false) };
}

function parseSlidingWindow(f: JsonFields, modelType: LlamaConfig['modelType']): number | undefined {
  if (modelType === 'mistral') return 'sliding_window' in f.obj ? f.optionalPositiveInt('sliding_window') : 4096;
  if (modelType === 'qwen2' && f.boolean('use_sliding_window', false)) return f.positiveInt('sliding_window', 4096);
  return undefined;
}

function parseLlama(f: JsonFields, modelType: LlamaConfig['modelType']): Mutable<LlamaConfig> {
  const family = LLAMA_FAMILY[modelType];
  const hiddenSize = f.positiveInt('hidden_size');
  const numAttentionHeads = f.positiveInt('num_attention_heads');
  let headDim = f.optionalPositiveInt('head_dim');
  if (headDim === undefined) {
    requireDivisible(f, 'hidden_size', hiddenSize, 'num_attention_heads', numAttentionHeads, ' when "head_dim" is absent');
    headDim = hiddenSize / numAttentionHeads;
  }
  const numKeyValueHeads = f.positiveInt('num_key_value_heads', family.kvHeads ?? numAttentionHeads);
  requireDivisible(f, 'num_attention_heads', numAttentionHeads, 'num_key_value_heads', numKeyValueHeads);
  const out: Mutable<LlamaConfig> = {
    modelType,
    vocabSize: f.positiveInt('vocab_size'),
    hiddenSize,
    intermediateSize: f.positiveInt('intermediate_size'),
    numHiddenLayers: f.positiveInt('num_hidden_layers'),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: f.positiveInt('max_position_embeddings', family.maxPositions),
    rmsNormEps: f.positiveNumber('rms_norm_eps', 1e-6),
    ...parseRope(f),
    hiddenAct: f.string('hidden_act', 'silu'),
    ...parseBiases(f, modelType),
    tieWordEmbeddings: f.boolean('tie_word_embeddings', false),
    padTokenId: tokenId(f, 'pad_token_id', undefined),
    bosTokenId: tokenId(f, 'bos_token_id', family.bosTokenId),
    eosTokenId: eosTokenId(f, family.eosTokenId),
    ...parseLabels(f),
    raw: f.obj,
  };
  const slidingWindow = parseSlidingWindow(f, modelType);
  if (slidingWindow !== undefined) out.slidingWindow = slidingWindow;
  return out;
}

function parseBert(f: JsonFields, modelType: BertConfig['modelType']): Mutable<BertConfig> {
  const roberta = modelType === 'roberta';
  const hiddenSize = f.positiveInt('hidden_size');
  const numAttentionHeads = f.positiveInt('num_attention_heads');
  requireDivisible(f, 'hidden_size', hiddenSize, 'num_attention_heads', numAttentionHeads);
  const positions = f.string('position_embedding_type', 'absolute');
  if (positions !== 'absolute') f.fail('position_embedding_type', '"absolute" (relative position embeddings are not supported)', positions);
  return {
    modelType,
    vocabSize: f.positiveInt('vocab_size'),
    hiddenSize,
    numHiddenLayers: f.positiveInt('num_hidden_layers'),
    numAttentionHeads,
    intermediateSize: f.positiveInt('intermediate_size'),
    hiddenAct: f.string('hidden_act', 'gelu'),
    maxPositionEmbeddings: f.positiveInt('max_position_embeddings', 512),
    typeVocabSize: f.positiveInt('type_vocab_size', 2),
    layerNormEps: f.positiveNumber('layer_norm_eps', 1e-12),
    padTokenId: f.nonNegativeInt('pad_token_id', roberta ? 1 : 0),
    bosTokenId: tokenId(f, 'bos_token_id', roberta ? 0 : undefined),
    eosTokenId: eosTokenId(f, roberta ? 2 : undefined),
    ...parseLabels(f),
    raw: f.obj,
  };
}

/** feed_forward_proj → activation and gating, as T5Config.__init__ splits "gated-ACT" / "ACT". */
function parseFeedForward(f: JsonFields): { feedForwardProj: string; denseActFn: string; isGatedAct: boolean } {
  const feedForwardProj = f.string('feed_forward_proj', 'relu');
  const parts = feedForwardProj.split('-');
  if ((parts.length > 1 && parts[0] !== 'gated') || parts.length > 2 || parts[parts.length - 1] === '') {
    f.fail('feed_forward_proj', 'of the form "gated-ACT" or "ACT" (e.g. "gated-gelu", "relu")', feedForwardProj);
  }
  // "gated-gelu" means gelu_new, for backwards compatibility (configuration_t5.py)
  const denseActFn = feedForwardProj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1];
  if (!T5_ACTIVATIONS.includes(denseActFn)) f.fail('feed_forward_proj', `an activation among ${T5_ACTIVATIONS.join(', ')} (optionally "gated-")`, feedForwardProj);
  return { feedForwardProj, denseActFn, isGatedAct: parts[0] === 'gated' };
}

/** Activations models/layers.ts implements, by their transformers names. */
const T5_ACTIVATIONS = ['relu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'silu', 'swish', 'tanh'];

function parseT5(f: JsonFields): Mutable<T5Config> {
  const numLayers = f.positiveInt(['num_layers', 'num_hidden_layers'], 6);
  const dropoutRate = f.has('dropout_rate') ? f.obj.dropout_rate : 0.1;
  if (typeof dropoutRate !== 'number' || !(dropoutRate >= 0 && dropoutRate < 1)) f.fail('dropout_rate', 'a number in [0, 1)', dropoutRate);
  if (!f.boolean('is_encoder_decoder', true)) f.fail('is_encoder_decoder', 'true (the encoder alone, T5EncoderModel, is not supported)', false);
  const padTokenId = f.nonNegativeInt('pad_token_id', 0);
  const buckets = f.positiveInt('relative_attention_num_buckets', 32);
  if (buckets < 4) f.fail('relative_attention_num_buckets', 'at least 4 (half exact, half logarithmic, in each direction)', buckets);
  const out: Mutable<T5Config> = {
    modelType: 't5',
    vocabSize: f.positiveInt('vocab_size', 32128),
    dModel: f.positiveInt(['d_model', 'hidden_size'], 512),
    dKv: f.positiveInt('d_kv', 64),
    dFf: f.positiveInt('d_ff', 2048),
    numLayers,
    numDecoderLayers: f.positiveInt('num_decoder_layers', numLayers),
    numHeads: f.positiveInt(['num_heads', 'num_attention_heads'], 8),
    relativeAttentionNumBuckets: buckets,
    relativeAttentionMaxDistance: f.positiveInt('relative_attention_max_distance', 128),
    dropoutRate,
    layerNormEpsilon: f.positiveNumber(['layer_norm_epsilon', 'layer_norm_eps'], 1e-6),
    ...parseFeedForward(f),
    tieWordEmbeddings: f.boolean('tie_word_embeddings', true),
    isEncoderDecoder: true,
    decoderStartTokenId: f.nonNegativeInt('decoder_start_token_id', padTokenId),
    padTokenId,
    eosTokenId: eosTokenId(f, 1),
    ...parseLabels(f),
    raw: f.obj,
  };
  if (out.relativeAttentionMaxDistance <= buckets / 4) {
    f.fail('relative_attention_max_distance', `greater than relative_attention_num_buckets / 4 (${buckets / 4}), where the logarithmic buckets start`, out.relativeAttentionMaxDistance);
  }
  return out;
}

/** Drops keys whose value is undefined so frozen configs compare and print cleanly. */
function withoutUndefined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

/**
 * Validates a parsed config.json and returns a frozen, camelCase config. `source` (usually the
 * file path) is named in every error. Unknown keys are ignored but kept in `raw`.
 *
 * @example
 *   const cfg = parseModelConfig(JSON.parse(text), 'gpt2/config.json');
 *   if (cfg.modelType === 'gpt2') console.log(cfg.nLayer);
 */
export function parseModelConfig(json: unknown, source: string): ModelConfig {
  const raw = deepFreeze(structuredClone(asJsonObject(json, source, 'config')));
  const f = new JsonFields(raw, source);
  if (!f.has('model_type')) f.missing('model_type', ` (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  const modelType = raw.model_type;
  switch (modelType) {
    case 'gpt2':
      return deepFreeze(withoutUndefined(parseGpt2(f)));
    case 'llama':
    case 'qwen2':
    case 'mistral':
      return deepFreeze(withoutUndefined(parseLlama(f, modelType)));
    case 'bert':
    case 'roberta':
      return deepFreeze(withoutUndefined(parseBert(f, modelType)));
    case 't5':
      return deepFreeze(withoutUndefined(parseT5(f)));
    default:
      throw new InputFileError(
        source,
        `${source}: model_type ${describeValue(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
      );
  }
}

/** Reads and validates `dir/config.json`; a missing or malformed file is an error naming its path. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  // Loaded lazily so that importing this module never pulls `fs` into a browser bundle.
  const [{ readJsonFile }, { join }] = await Promise.all([import('./json-file.js'), import('node:path')]);
  const path = join(dir, 'config.json');
  return parseModelConfig(await readJsonFile(path), path);
}

// ---- writing back -------------------------------------------------------------------------------

/** camelCase field → config.json key(s); a value is written to the first key the raw JSON already uses. */
const COMMON_KEYS: Record<string, readonly string[]> = {
  vocabSize: ['vocab_size'],
  padTokenId: ['pad_token_id'],
  bosTokenId: ['bos_token_id'],
  eosTokenId: ['eos_token_id'],
  architectures: ['architectures'],
};
const LLAMA_FAMILY_KEYS: Record<string, readonly string[]> = {
  hiddenSize: ['hidden_size'],
  intermediateSize: ['intermediate_size'],
  numHiddenLayers: ['num_hidden_layers'],
  numAttentionHeads: ['num_attention_heads'],
  numKeyValueHeads: ['num_key_value_heads'],
  headDim: ['head_dim'],
  maxPositionEmbeddings: ['max_position_embeddings'],
  rmsNormEps: ['rms_norm_eps'],
  hiddenAct: ['hidden_act'],
  tieWordEmbeddings: ['tie_word_embeddings'],
  slidingWindow: ['sliding_window'],
};
const BERT_KEYS: Record<string, readonly string[]> = {
  hiddenSize: ['hidden_size'],
  numHiddenLayers: ['num_hidden_layers'],
  numAttentionHeads: ['num_attention_heads'],
  intermediateSize: ['intermediate_size'],
  hiddenAct: ['hidden_act'],
  maxPositionEmbeddings: ['max_position_embeddings'],
  typeVocabSize: ['type_vocab_size'],
  layerNormEps: ['layer_norm_eps'],
};
const JSON_KEYS: Record<ModelType, Record<string, readonly string[]>> = {
  gpt2: {
    nPositions: ['n_positions', 'max_position_embeddings'],
    nEmbd: ['n_embd', 'hidden_size'],
    nLayer: ['n_layer', 'num_hidden_layers'],
    nHead: ['n_head', 'num_attention_heads'],
    nInner: ['n_inner'],
    activation: ['activation_function'],
    layerNormEpsilon: ['layer_norm_epsilon'],
    tieWordEmbeddings: ['tie_word_embeddings'],
    scaleAttnWeights: ['scale_attn_weights'],
    scaleAttnByInverseLayerIdx: ['scale_attn_by_inverse_layer_idx'],
  },
  llama: { ...LLAMA_FAMILY_KEYS, attentionBias: ['attention_bias'], mlpBias: ['mlp_bias'] },
  // qwen2 and mistral have no attention_bias / mlp_bias keys: their biases are fixed by the architecture.
  qwen2: LLAMA_FAMILY_KEYS,
  mistral: LLAMA_FAMILY_KEYS,
  bert: BERT_KEYS,
  roberta: BERT_KEYS,
  t5: {
    dModel: ['d_model'],
    dKv: ['d_kv'],
    dFf: ['d_ff'],
    numLayers: ['num_layers'],
    numDecoderLayers: ['num_decoder_layers'],
    numHeads: ['num_heads'],
    relativeAttentionNumBuckets: ['relative_attention_num_buckets'],
    relativeAttentionMaxDistance: ['relative_attention_max_distance'],
    dropoutRate: ['dropout_rate'],
    layerNormEpsilon: ['layer_norm_epsilon'],
    feedForwardProj: ['feed_forward_proj'],
    tieWordEmbeddings: ['tie_word_embeddings'],
    isEncoderDecoder: ['is_encoder_decoder'],
    decoderStartTokenId: ['decoder_start_token_id'],
  },
};

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function ropeScalingJson(scaling: RopeScaling | undefined): JsonObject {
  if (!scaling) return { rope_type: 'default' };
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor };
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
  };
}

function writeRope(out: JsonObject, config: LlamaConfig): void {
  if (out.rope_parameters !== undefined && out.rope_parameters !== null) {
    out.rope_parameters = { ...ropeScalingJson(config.ropeScaling), rope_theta: config.ropeTheta };
    return;
  }
  out.rope_theta = config.ropeTheta;
  out.rope_scaling = config.ropeScaling ? ropeScalingJson(config.ropeScaling) : null;
}

function writeLabels(out: JsonObject, config: ModelConfig): void {
  const given = config.id2label && Object.keys(config.id2label).length === config.numLabels ? config.id2label : undefined;
  const id2label: Record<string, string> = {};
  for (let i = 0; i < config.numLabels; i++) id2label[i] = given?.[i] ?? `LABEL_${i}`;
  out.id2label = given ? { ...given } : id2label;
  out.label2id = config.label2id && given ? { ...config.label2id } : Object.fromEntries(Object.entries(out.id2label as object).map(([i, l]) => [l, Number(i)]));
  if ('num_labels' in out) out.num_labels = config.numLabels;
}

/**
 * The config as config.json: `raw` with every field whose value differs from what `raw` parses to
 * written back under its HF key. An unchanged config gives `raw` back exactly.
 *
 * @example
 *   await writeFile('out/config.json', JSON.stringify(modelConfigToJson({ ...cfg, numLabels: 3 }), null, 2));
 */
export function modelConfigToJson(config: ModelConfig): Record<string, unknown> {
  const out = structuredClone(config.raw) as JsonObject;
  let base: ModelConfig | undefined;
  try {
    base = parseModelConfig(config.raw, 'modelConfigToJson');
  } catch {
    base = undefined; // raw is not a valid config on its own: write every field
  }
  if (base?.modelType !== config.modelType) base = undefined;
  out.model_type = config.modelType;
  const changed = (field: string): boolean =>
    base === undefined || !sameJson((config as unknown as JsonObject)[field], (base as unknown as JsonObject)[field]);
  for (const [field, keys] of Object.entries({ ...COMMON_KEYS, ...JSON_KEYS[config.modelType] })) {
    if (!changed(field)) continue;
    const key = keys.find((k) => k in out) ?? keys[0];
    out[key] = (config as unknown as JsonObject)[field] ?? null;
  }
  if ('ropeTheta' in config && (changed('ropeTheta') || changed('ropeScaling'))) writeRope(out, config);
  if (changed('numLabels') || changed('id2label') || changed('label2id')) writeLabels(out, config);
  return out;
}

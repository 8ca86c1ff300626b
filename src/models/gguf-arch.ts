// What llama.cpp calls a Hugging Face decoder (convert_hf_to_gguf.py's LlamaModel, Qwen2Model and
// GPT2Model; gguf-py's tensor_mapping.py): the architecture's keys, each checkpoint tensor's GGUF name
// and layout, and the type it is stored as. Llama and Mistral are llama.cpp's "llama" (its RoPE
// rotates adjacent pairs, so Q and K rows are permuted from Hugging Face's rotate-half order, biases
// too); Qwen2 is "qwen2" (rotate-half, no permutation); GPT-2's Conv1D weights are transposed to
// [out, in]. Everything else is refused with the reason.
import type { Gpt2Config, LlamaConfig, ModelConfig } from '../io/hf-config.js';
import type { GgufKv } from '../io/gguf-write.js';
import { InputFileError } from '../io/input-error.js';
import { rowFits, type GgmlType } from '../quant/ggml-type-traits.js';

/** The --type of an export: what ggml calls the file type (LlamaFileType), and its id. */
export const GGUF_FILE_TYPES = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 } as const;
export type GgufFileType = keyof typeof GGUF_FILE_TYPES;

/** How a checkpoint tensor becomes a GGUF tensor. */
export interface GgufTensorRule {
  readonly name: string;
  /** GPT-2 Conv1D [in, out] → [out, in]. */
  readonly transpose?: boolean;
  /** Llama's q/k: rows regrouped per head from rotate-half to adjacent pairs; the count of heads. */
  readonly ropeHeads?: number;
}

export interface GgufArchitecture {
  readonly arch: 'llama' | 'qwen2' | 'gpt2';
  /** `${arch}.*` keys: sizes, context, rope, norm eps. */
  readonly kvs: GgufKv[];
  readonly vocabSize: number;
  /** The GGUF rule for a checkpoint tensor, 'skip' for buffers and a tied head, undefined when unknown. */
  tensorRule(hfName: string): GgufTensorRule | 'skip' | undefined;
  /** Tensors llama.cpp needs that the checkpoint does not hold (Llama 3's rope_freqs). */
  readonly extraTensors: readonly { readonly name: string; readonly values: Float32Array }[];
}

const BUFFERS = /(^|\.)(rotary_emb\.inv_freq|attn\.bias|attn\.masked_bias|position_ids)$/;

function refuse(source: string, why: string): never {
  throw new InputFileError(source, `${source}: cannot export to GGUF: ${why}`);
}

const u32 = (key: string, value: number): GgufKv => ({ key, type: 'u32', value });
const f32 = (key: string, value: number): GgufKv => ({ key, type: 'f32', value });

/**
 * The GGUF architecture of a causal LM's config; BERT, RoBERTa, T5, classifiers and settings
 * llama.cpp would compute differently are refused, naming config.json.
 */
export function ggufArchitecture(config: ModelConfig, source: string): GgufArchitecture {
  if (config.modelType !== 'gpt2' && config.modelType !== 'llama' && config.modelType !== 'mistral' && config.modelType !== 'qwen2') {
    refuse(source, `model_type "${config.modelType}" is not supported (the export supports the Llama family: llama, mistral, qwen2, SmolLM; and gpt2)`);
  }
  const classifier = config.architectures?.find((a) => /For(Sequence|Token)Classification$/.test(a));
  if (classifier) refuse(source, `${classifier} is a classifier; GGUF export writes causal language models (llama.cpp, Ollama and LM Studio generate text)`);
  return config.modelType === 'gpt2' ? gpt2(config, source) : llamaFamily(config, source);
}

function llamaFamily(c: LlamaConfig, source: string): GgufArchitecture {
  if (c.hiddenAct !== 'silu') refuse(source, `hidden_act "${c.hiddenAct}" is not llama.cpp's silu`);
  const arch = c.modelType === 'qwen2' ? 'qwen2' : 'llama';
  if (arch === 'qwen2' && (c.oBias || c.mlpBias)) refuse(source, 'qwen2 with an o_proj or MLP bias is not what llama.cpp\'s qwen2 loads');
  const p = `${arch}.`;
  // llama.cpp's llama has no sliding window: within the window the outputs are the same, so that is the context.
  const context = Math.min(c.maxPositionEmbeddings, c.slidingWindow ?? Infinity);
  const kvs: GgufKv[] = [
    u32(`${p}vocab_size`, c.vocabSize),
    u32(`${p}context_length`, context),
    u32(`${p}embedding_length`, c.hiddenSize),
    u32(`${p}block_count`, c.numHiddenLayers),
    u32(`${p}feed_forward_length`, c.intermediateSize),
    u32(`${p}rope.dimension_count`, c.headDim),
    u32(`${p}attention.head_count`, c.numAttentionHeads),
    u32(`${p}attention.head_count_kv`, c.numKeyValueHeads),
    f32(`${p}rope.freq_base`, c.ropeTheta),
    f32(`${p}attention.layer_norm_rms_epsilon`, c.rmsNormEps),
  ];
  if (c.headDim * c.numAttentionHeads !== c.hiddenSize) kvs.push(u32(`${p}attention.key_length`, c.headDim), u32(`${p}attention.value_length`, c.headDim));
  const extraTensors: { name: string; values: Float32Array }[] = [];
  if (c.ropeScaling?.type === 'linear') kvs.push({ key: `${p}rope.scaling.type`, type: 'string', value: 'linear' }, f32(`${p}rope.scaling.factor`, c.ropeScaling.factor));
  if (c.ropeScaling?.type === 'llama3') extraTensors.push({ name: 'rope_freqs.weight', values: llama3RopeFactors(c) });
  const permute = arch === 'llama';
  const layer: Record<string, GgufTensorRule> = {
    'input_layernorm.weight': { name: 'attn_norm.weight' },
    'post_attention_layernorm.weight': { name: 'ffn_norm.weight' },
    'mlp.gate_proj.weight': { name: 'ffn_gate.weight' },
    'mlp.up_proj.weight': { name: 'ffn_up.weight' },
    'mlp.down_proj.weight': { name: 'ffn_down.weight' },
    'mlp.gate_proj.bias': { name: 'ffn_gate.bias' },
    'mlp.up_proj.bias': { name: 'ffn_up.bias' },
    'mlp.down_proj.bias': { name: 'ffn_down.bias' },
    'self_attn.o_proj.weight': { name: 'attn_output.weight' },
    'self_attn.o_proj.bias': { name: 'attn_output.bias' },
    'self_attn.v_proj.weight': { name: 'attn_v.weight' },
    'self_attn.v_proj.bias': { name: 'attn_v.bias' },
  };
  for (const kind of ['weight', 'bias']) {
    layer[`self_attn.q_proj.${kind}`] = { name: `attn_q.${kind}`, ropeHeads: permute ? c.numAttentionHeads : undefined };
    layer[`self_attn.k_proj.${kind}`] = { name: `attn_k.${kind}`, ropeHeads: permute ? c.numKeyValueHeads : undefined };
  }
  const top: Record<string, GgufTensorRule | 'skip'> = {
    'model.embed_tokens.weight': { name: 'token_embd.weight' },
    'model.norm.weight': { name: 'output_norm.weight' },
    'lm_head.weight': c.tieWordEmbeddings ? 'skip' : { name: 'output.weight' },
  };
  return {
    arch,
    kvs,
    vocabSize: c.vocabSize,
    extraTensors,
    tensorRule(hfName) {
      if (BUFFERS.test(hfName)) return 'skip';
      if (hfName in top) return top[hfName];
      const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hfName);
      const rule = m ? layer[m[2]] : undefined;
      return rule && m ? { ...rule, name: `blk.${m[1]}.${rule.name}` } : undefined;
    },
  };
}

/** convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors: one factor per rotated pair. */
function llama3RopeFactors(c: LlamaConfig): Float32Array {
  const s = c.ropeScaling as Extract<LlamaConfig['ropeScaling'], { type: 'llama3' }>;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  const out = new Float32Array(c.headDim / 2);
  for (let i = 0; i < out.length; i++) {
    const freq = Math.fround(1 / Math.fround(c.ropeTheta ** Math.fround((2 * i) / c.headDim)));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

function gpt2(c: Gpt2Config, source: string): GgufArchitecture {
  if (c.activation !== 'gelu_new' && c.activation !== 'gelu_pytorch_tanh') refuse(source, `activation_function "${c.activation}" is not llama.cpp's tanh GELU`);
  if (!c.scaleAttnWeights || c.scaleAttnByInverseLayerIdx) refuse(source, 'GPT-2 attention scaling other than 1/√head_dim is not what llama.cpp computes');
  const kvs: GgufKv[] = [
    u32('gpt2.context_length', c.nPositions),
    u32('gpt2.embedding_length', c.nEmbd),
    u32('gpt2.feed_forward_length', c.nInner),
    u32('gpt2.block_count', c.nLayer),
    u32('gpt2.attention.head_count', c.nHead),
    f32('gpt2.attention.layer_norm_epsilon', c.layerNormEpsilon),
  ];
  const layer: Record<string, GgufTensorRule> = {
    'ln_1.weight': { name: 'attn_norm.weight' },
    'ln_1.bias': { name: 'attn_norm.bias' },
    'attn.c_attn.weight': { name: 'attn_qkv.weight', transpose: true },
    'attn.c_attn.bias': { name: 'attn_qkv.bias' },
    'attn.c_proj.weight': { name: 'attn_output.weight', transpose: true },
    'attn.c_proj.bias': { name: 'attn_output.bias' },
    'ln_2.weight': { name: 'ffn_norm.weight' },
    'ln_2.bias': { name: 'ffn_norm.bias' },
    'mlp.c_fc.weight': { name: 'ffn_up.weight', transpose: true },
    'mlp.c_fc.bias': { name: 'ffn_up.bias' },
    'mlp.c_proj.weight': { name: 'ffn_down.weight', transpose: true },
    'mlp.c_proj.bias': { name: 'ffn_down.bias' },
  };
  const top: Record<string, GgufTensorRule | 'skip'> = {
    'wte.weight': { name: 'token_embd.weight' },
    'wpe.weight': { name: 'position_embd.weight' },
    'ln_f.weight': { name: 'output_norm.weight' },
    'ln_f.bias': { name: 'output_norm.bias' },
  };
  return {
    arch: 'gpt2',
    kvs,
    vocabSize: c.vocabSize,
    extraTensors: [],
    tensorRule(hfName) {
      if (BUFFERS.test(hfName)) return 'skip';
      if (hfName === 'lm_head.weight') return c.tieWordEmbeddings ? 'skip' : { name: 'output.weight' };
      const name = hfName.replace(/^transformer\./, '');
      if (name in top) return top[name];
      const m = /^h\.(\d+)\.(.+)$/.exec(name);
      const rule = m ? layer[m[2]] : undefined;
      return rule && m ? { ...rule, name: `blk.${m[1]}.${rule.name}` } : undefined;
    },
  };
}

/**
 * The ggml type a tensor is stored as, as convert_hf_to_gguf.py chooses: vectors, norms, biases and
 * position embeddings in F32; matrices in the file's type, or F16 where a row is not whole q8_0/q4_0 blocks.
 */
export function ggufTensorType(fileType: GgufFileType, name: string, dims: readonly number[]): GgmlType {
  if (dims.length <= 1 || name.endsWith('_norm.weight') || name === 'position_embd.weight' || !/\.(weight|lora_a|lora_b)$/.test(name)) return 'F32';
  const type = fileType.toUpperCase() as GgmlType;
  return rowFits(type, dims[0]) ? type : 'F16';
}

/**
 * Rows of a [rows, cols] matrix (or a vector, cols = 1) regrouped per head as LlamaModel.permute:
 * within each head, row j·(d/2) + i moves to 2i + j, so rotate-half pairs become adjacent.
 */
export function permuteRopeRows(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const headRows = rows / heads;
  if (!Number.isInteger(headRows) || headRows % 2 !== 0) throw new Error(`cannot split ${rows} rows into ${heads} heads of an even size`);
  const half = headRows / 2;
  const out = new Float32Array(values.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const from = (h * headRows + j * half + i) * cols;
        out.set(values.subarray(from, from + cols), (h * headRows + 2 * i + j) * cols);
      }
    }
  }
  return out;
}

/** A [rows, cols] matrix transposed to [cols, rows]. */
export function transposeMatrix(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModelConfig } from '../io/hf-config.js';
import { ggufArchitecture, ggufTensorType, permuteRopeRows, transposeMatrix } from './gguf-arch.js';

const llamaJson = { model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64 };

test("Llama's Q/K permutation: within each head, rotate-half rows j·d/2 + i move to 2i + j (LlamaModel.permute)", () => {
  // 2 heads of 4 rows: head 0 holds rows [0 1 | 2 3] as (first halves | second halves) → 0 2 1 3.
  assert.deepEqual([...permuteRopeRows(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 8, 1, 2)], [0, 2, 1, 3, 4, 6, 5, 7]);
  // rows of a matrix move whole
  assert.deepEqual([...permuteRopeRows(Float32Array.from([0, 0, 1, 1, 2, 2, 3, 3]), 4, 2, 1)], [0, 0, 2, 2, 1, 1, 3, 3]);
  assert.deepEqual([...transposeMatrix(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)], [1, 4, 2, 5, 3, 6]);
  assert.throws(() => permuteRopeRows(new Float32Array(6), 6, 1, 2), /cannot split 6 rows into 2 heads of an even size/);
});

test('llama: names, q/k permuted with their own head counts, tied head skipped, keys as convert_hf_to_gguf.py writes them', () => {
  const a = ggufArchitecture(parseModelConfig({ ...llamaJson, tie_word_embeddings: true }, 'c'), 'c');
  assert.equal(a.arch, 'llama');
  assert.deepEqual(a.tensorRule('model.layers.1.self_attn.q_proj.weight'), { name: 'blk.1.attn_q.weight', ropeHeads: 4 });
  assert.deepEqual(a.tensorRule('model.layers.0.self_attn.k_proj.weight'), { name: 'blk.0.attn_k.weight', ropeHeads: 2 });
  assert.deepEqual(a.tensorRule('model.layers.0.mlp.down_proj.weight'), { name: 'blk.0.ffn_down.weight' });
  assert.deepEqual(a.tensorRule('model.embed_tokens.weight'), { name: 'token_embd.weight' });
  assert.equal(a.tensorRule('lm_head.weight'), 'skip');
  assert.equal(a.tensorRule('model.layers.0.self_attn.rotary_emb.inv_freq'), 'skip');
  assert.equal(a.tensorRule('model.layers.0.something.weight'), undefined);
  const kv = Object.fromEntries(a.kvs.map((k) => [k.key, k.value]));
  assert.deepEqual(kv, {
    'llama.vocab_size': 40, 'llama.context_length': 64, 'llama.embedding_length': 16, 'llama.block_count': 2, 'llama.feed_forward_length': 32,
    'llama.rope.dimension_count': 4, 'llama.attention.head_count': 4, 'llama.attention.head_count_kv': 2, 'llama.rope.freq_base': 10000, 'llama.attention.layer_norm_rms_epsilon': 1e-6,
  });
});

test("qwen2 is not permuted (llama.cpp rotates halves there too); mistral's sliding window becomes the context length", () => {
  const q = ggufArchitecture(parseModelConfig({ ...llamaJson, model_type: 'qwen2' }, 'c'), 'c');
  assert.equal(q.arch, 'qwen2');
  assert.deepEqual(q.tensorRule('model.layers.0.self_attn.q_proj.bias'), { name: 'blk.0.attn_q.bias', ropeHeads: undefined });
  const m = ggufArchitecture(parseModelConfig({ ...llamaJson, model_type: 'mistral', sliding_window: 16 }, 'c'), 'c');
  assert.equal(m.arch, 'llama');
  assert.equal(m.kvs.find((k) => k.key === 'llama.context_length')?.value, 16);
});

test("Llama 3's RoPE scaling as a rope_freqs tensor, worked out by hand (θ 10000, head 16, factor 8, low 1, high 4, original 32)", () => {
  const a = ggufArchitecture(parseModelConfig({ ...llamaJson, hidden_size: 64, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } }, 'c'), 'c');
  const [x] = a.extraTensors;
  assert.equal(x.name, 'rope_freqs.weight');
  // wavelengths 2π·10000^(i/8): 6.28 (< 32/4: 1), 19.87 (between: 1/((1−s)/8 + s), s = (32/19.87 − 1)/3), 62.8 and up (> 32: 8)
  const s = (32 / (2 * Math.PI * 10000 ** (1 / 8)) - 1) / 3;
  assert.deepEqual([x.values[0], x.values[2], x.values[7]], [1, 8, 8]);
  assert.ok(Math.abs(x.values[1] - 1 / ((1 - s) / 8 + s)) < 1e-5);
});

test('gpt2: Conv1D weights transposed, position embeddings kept, keys', () => {
  const a = ggufArchitecture(parseModelConfig({ model_type: 'gpt2', vocab_size: 40, n_positions: 24, n_embd: 16, n_layer: 2, n_head: 2 }, 'c'), 'c');
  assert.deepEqual(a.tensorRule('h.0.attn.c_attn.weight'), { name: 'blk.0.attn_qkv.weight', transpose: true });
  assert.deepEqual(a.tensorRule('transformer.h.1.mlp.c_proj.bias'), { name: 'blk.1.ffn_down.bias' });
  assert.deepEqual(a.tensorRule('wpe.weight'), { name: 'position_embd.weight' });
  assert.equal(a.tensorRule('h.0.attn.bias'), 'skip');
  assert.equal(a.kvs.find((k) => k.key === 'gpt2.feed_forward_length')?.value, 64);
});

test('encoders, T5, classifiers and activations llama.cpp would compute differently are refused, naming config.json', () => {
  const refuse = (json: Record<string, unknown>) => () => ggufArchitecture(parseModelConfig(json, 'm/config.json'), 'm/config.json');
  assert.throws(refuse({ model_type: 'bert', vocab_size: 30, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32 }), /m\/config\.json: cannot export to GGUF: model_type "bert" is not supported \(the export supports the Llama family/);
  assert.throws(refuse({ model_type: 't5', vocab_size: 30 }), /model_type "t5" is not supported/);
  assert.throws(refuse({ ...llamaJson, architectures: ['LlamaForSequenceClassification'] }), /LlamaForSequenceClassification is a classifier/);
  assert.throws(refuse({ model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 1, n_head: 2, activation_function: 'relu' }), /activation_function "relu" is not llama\.cpp's tanh GELU/);
});

test('tensor types as convert_hf_to_gguf.py picks them: vectors, norms, biases, position embeddings f32; a row that is not whole blocks f16', () => {
  assert.equal(ggufTensorType('q8_0', 'blk.0.attn_q.weight', [128, 128]), 'Q8_0');
  assert.equal(ggufTensorType('q4_0', 'blk.0.ffn_down.weight', [344, 128]), 'F16'); // 344 = 10·32 + 24
  assert.equal(ggufTensorType('q8_0', 'blk.0.attn_norm.weight', [128]), 'F32');
  assert.equal(ggufTensorType('f16', 'blk.0.attn_q.bias', [128]), 'F32');
  assert.equal(ggufTensorType('f16', 'position_embd.weight', [16, 24]), 'F32');
  assert.equal(ggufTensorType('bf16', 'token_embd.weight', [16, 40]), 'BF16');
  assert.equal(ggufTensorType('q8_0', 'blk.0.attn_q.weight.lora_b', [4, 128]), 'F16'); // rank 4 rows
});

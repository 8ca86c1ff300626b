#!/usr/bin/env python3
"""Golden outputs for the TypeScript models, from an independent plain-PyTorch implementation.

Each reference forward pass below is written from the Hugging Face `transformers` modelling code
(modeling_gpt2.py, modeling_llama.py / qwen2 / mistral, modeling_bert.py, modeling_roberta.py and
modeling_rope_utils.py, modeling_t5.py) without importing it, and computed in float64 from seeded random weights.
For every fixture it writes into src/models/fixtures/<name>/:

  config.json        a Hugging Face config
  model.safetensors  the weights with Hub names and layouts, written by hand (struct + json) below;
                     stored F32, F16 or BF16 -- the reference uses the weights *after* that rounding
  expected.json      input ids, attention mask (and token type ids), and the logits rounded to
                     6 significant digits; logits of padding positions are null (they are arbitrary)

T5 fixtures (task "seq2seq-lm") also hold the labels, the decoder input ids (labels shifted right) and
the reference loss; their logits are the decoder's at every label position.

Decoder fixtures with padding pass explicit position ids as Hugging Face `generate` computes them
(cumsum(mask) - 1, padding set to 1), which is what the TypeScript models use when given a mask.

Run with Debian's torch (no transformers needed):  /usr/bin/python3 scripts/parity/make_fixtures.py
"""
import json
import math
import os
import struct

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'models', 'fixtures')
F64 = torch.float64
MIN = torch.finfo(F64).min


# ---- safetensors, by hand ---------------------------------------------------------------------

def tensor_bytes(t, dtype):
    """Little-endian bytes of t stored as dtype ('F32', 'F16', 'BF16')."""
    t = t.detach().contiguous()
    if dtype == 'F32':
        return t.to(torch.float32).numpy().astype('<f4').tobytes()
    if dtype == 'F16':
        return t.to(torch.float16).numpy().astype('<f2').tobytes()
    if dtype == 'BF16':
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype('<i2').tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, tensor, dtype). Header: 8-byte LE length, JSON padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    for name, t, dtype in tensors:
        data = tensor_bytes(t, dtype)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


STORAGE = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}


def stored(t, dtype):
    """The float64 values a reader gets back after storing t as dtype."""
    return t.to(STORAGE[dtype]).to(F64)


def round6(x):
    return float(f'{x:.6g}')


def save_fixture(name, config, tensors, expected):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(d, 'model.safetensors'), tensors, {'format': 'pt'})
    with open(os.path.join(d, 'expected.json'), 'w') as f:
        json.dump(expected, f, separators=(',', ':'))
        f.write('\n')
    size = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
    print(f'{name}: {size / 1024:.1f} KiB')


class Weights:
    """Seeded random weights, each rounded through its storage dtype; `tensors` is the file's list."""

    def __init__(self, seed, dtype):
        self.g = torch.Generator().manual_seed(seed)
        self.dtype = dtype
        self.tensors = []

    def _add(self, name, t, store_as=None):
        dtype = store_as or self.dtype
        self.tensors.append((name, t, dtype))
        return stored(t, dtype)

    def normal(self, name, shape, std):
        return self._add(name, torch.randn(*shape, generator=self.g, dtype=F64) * std)

    def around_one(self, name, shape):
        return self._add(name, 1 + 0.1 * torch.randn(*shape, generator=self.g, dtype=F64))

    def buffer(self, name, t):
        self.tensors.append((name, t, 'F32'))


# ---- shared pieces ------------------------------------------------------------------------------

def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def generate_position_ids(mask):
    pos = mask.long().cumsum(-1) - 1
    return pos.masked_fill(mask == 0, 1)


def decoder_mask(mask, T, window=None):
    """Additive [B, 1, T, T]: causal (and sliding window) combined with padding, finfo.min where hidden."""
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if window is not None:
        allowed = allowed & (i - j < window)
    allowed = allowed[None, None] & (mask[:, None, None, :] == 1)
    return torch.zeros(allowed.shape, dtype=F64).masked_fill(~allowed, MIN)


def attention(q, k, v, bias, scale):
    att = q @ k.transpose(-1, -2) * scale + bias
    return torch.softmax(att, -1) @ v


def heads(x, n):
    B, T, C = x.shape
    return x.view(B, T, n, C // n).transpose(1, 2)


def merge(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def masked_logits(logits, mask):
    """[B, T, V] → nested lists, null at padding positions."""
    out = []
    for b in range(logits.shape[0]):
        out.append([[round6(v) for v in logits[b, t].tolist()] if mask[b, t] == 1 else None for t in range(logits.shape[1])])
    return out


def last_token(h, mask):
    idx = (torch.arange(mask.shape[1]) * mask).argmax(-1)
    return h[torch.arange(h.shape[0]), idx]


# ---- GPT-2 (modeling_gpt2.py) -------------------------------------------------------------------

def gpt2_weights(cfg, W, prefix, with_buffers):
    d, n_pos, inner = cfg['n_embd'], cfg['n_positions'], cfg.get('n_inner') or 4 * cfg['n_embd']
    p = {'wte': W.normal(f'{prefix}wte.weight', (cfg['vocab_size'], d), 1.0),
         'wpe': W.normal(f'{prefix}wpe.weight', (n_pos, d), 0.5), 'h': []}
    for i in range(cfg['n_layer']):
        pre = f'{prefix}h.{i}.'
        L = {}
        L['ln_1.w'] = W.around_one(pre + 'ln_1.weight', (d,))
        L['ln_1.b'] = W.normal(pre + 'ln_1.bias', (d,), 0.1)
        if with_buffers:  # the causal-mask buffer old checkpoints carry
            W.buffer(pre + 'attn.bias', torch.tril(torch.ones(n_pos, n_pos)).view(1, 1, n_pos, n_pos))
        # Conv1D stores weight as [in, out]
        L['c_attn.w'] = W.normal(pre + 'attn.c_attn.weight', (d, 3 * d), 0.2)
        L['c_attn.b'] = W.normal(pre + 'attn.c_attn.bias', (3 * d,), 0.1)
        L['attn.c_proj.w'] = W.normal(pre + 'attn.c_proj.weight', (d, d), 0.2)
        L['attn.c_proj.b'] = W.normal(pre + 'attn.c_proj.bias', (d,), 0.1)
        L['ln_2.w'] = W.around_one(pre + 'ln_2.weight', (d,))
        L['ln_2.b'] = W.normal(pre + 'ln_2.bias', (d,), 0.1)
        L['c_fc.w'] = W.normal(pre + 'mlp.c_fc.weight', (d, inner), 0.2)
        L['c_fc.b'] = W.normal(pre + 'mlp.c_fc.bias', (inner,), 0.1)
        L['mlp.c_proj.w'] = W.normal(pre + 'mlp.c_proj.weight', (inner, d), 0.2)
        L['mlp.c_proj.b'] = W.normal(pre + 'mlp.c_proj.bias', (d,), 0.1)
        p['h'].append(L)
    p['ln_f.w'] = W.around_one(f'{prefix}ln_f.weight', (d,))
    p['ln_f.b'] = W.normal(f'{prefix}ln_f.bias', (d,), 0.1)
    return p


def gpt2_hidden(cfg, p, ids, mask):
    B, T = ids.shape
    nH, eps = cfg['n_head'], cfg.get('layer_norm_epsilon', 1e-5)
    act = {'gelu_new': gelu_new, 'relu': torch.relu}[cfg.get('activation_function', 'gelu_new')]
    pos = generate_position_ids(mask)
    h = p['wte'][ids] + p['wpe'][pos]
    bias = decoder_mask(mask, T)
    for i, L in enumerate(p['h']):
        x = layer_norm(h, L['ln_1.w'], L['ln_1.b'], eps)
        q, k, v = (x @ L['c_attn.w'] + L['c_attn.b']).split(cfg['n_embd'], dim=2)
        scale = 1 / math.sqrt(cfg['n_embd'] // nH)
        if cfg.get('scale_attn_by_inverse_layer_idx'):
            scale /= i + 1
        a = merge(attention(heads(q, nH), heads(k, nH), heads(v, nH), bias, scale))
        h = h + a @ L['attn.c_proj.w'] + L['attn.c_proj.b']
        x = layer_norm(h, L['ln_2.w'], L['ln_2.b'], eps)
        h = h + act(x @ L['c_fc.w'] + L['c_fc.b']) @ L['mlp.c_proj.w'] + L['mlp.c_proj.b']
    return layer_norm(h, p['ln_f.w'], p['ln_f.b'], eps)


def fixture_gpt2_lm():
    cfg = {'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'], 'vocab_size': 96, 'n_positions': 32,
           'n_embd': 32, 'n_layer': 2, 'n_head': 4, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
           'bos_token_id': 0, 'eos_token_id': 0}
    W = Weights(1, 'F32')
    p = gpt2_weights(cfg, W, '', with_buffers=True)  # Hub gpt2 layout: no "transformer." prefix
    ids = torch.tensor([[5, 17, 3, 88, 42, 9, 60, 2], [71, 4, 33, 15, 0, 0, 0, 0]])
    mask = torch.tensor([[1] * 8, [1, 1, 1, 1, 1, 0, 0, 0]])
    logits = gpt2_hidden(cfg, p, ids, mask) @ p['wte'].T  # tied lm_head
    save_fixture('gpt2-lm', cfg, W.tensors, {'task': 'causal-lm', 'input_ids': ids.tolist(),
                                            'attention_mask': mask.tolist(), 'logits': masked_logits(logits, mask)})


def fixture_gpt2_cls():
    cfg = {'model_type': 'gpt2', 'architectures': ['GPT2ForSequenceClassification'], 'vocab_size': 64,
           'n_positions': 16, 'n_embd': 24, 'n_inner': 40, 'n_layer': 2, 'n_head': 3, 'activation_function': 'relu',
           'scale_attn_by_inverse_layer_idx': True, 'pad_token_id': 0,
           'id2label': {'0': 'neg', '1': 'neu', '2': 'pos'}, 'label2id': {'neg': 0, 'neu': 1, 'pos': 2}}
    W = Weights(2, 'F32')
    p = gpt2_weights(cfg, W, 'transformer.', with_buffers=False)
    score = W.normal('score.weight', (3, cfg['n_embd']), 0.5)
    ids = torch.tensor([[5, 17, 3, 8, 42, 9], [11, 4, 33, 0, 0, 0], [0, 0, 21, 7, 30, 12]])
    mask = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]])
    logits = last_token(gpt2_hidden(cfg, p, ids, mask), mask) @ score.T
    save_fixture('gpt2-cls', cfg, W.tensors, {'task': 'sequence-classification', 'input_ids': ids.tolist(),
                                             'attention_mask': mask.tolist(),
                                             'logits': [[round6(v) for v in row] for row in logits.tolist()]})


# ---- Llama / Qwen2 / Mistral (modeling_llama.py, modeling_rope_utils.py) --------------------------

def rope_inv_freq(cfg):
    hd = cfg.get('head_dim') or cfg['hidden_size'] // cfg['num_attention_heads']
    inv = 1.0 / (cfg.get('rope_theta', 10000.0) ** (torch.arange(0, hd, 2, dtype=F64) / hd))
    s = cfg.get('rope_scaling')
    if s is None:
        return inv
    if s['rope_type'] == 'linear':  # _compute_linear_scaling_rope_parameters
        return inv / s['factor']
    if s['rope_type'] == 'llama3':  # _compute_llama3_parameters
        factor, low, high, old = s['factor'], s['low_freq_factor'], s['high_freq_factor'], s['original_max_position_embeddings']
        low_wavelen, high_wavelen = old / low, old / high
        wavelen = 2 * math.pi / inv
        inv_llama = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, inv_llama)
    raise ValueError(s)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):
    B, nKV, T, hd = x.shape
    return x[:, :, None].expand(B, nKV, n_rep, T, hd).reshape(B, nKV * n_rep, T, hd)


def llama_weights(cfg, W, prefix, qkv_bias):
    d, I = cfg['hidden_size'], cfg['intermediate_size']
    nH, nKV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or d // nH
    p = {'embed': W.normal(f'{prefix}embed_tokens.weight', (cfg['vocab_size'], d), 1.0), 'layers': []}
    for i in range(cfg['num_hidden_layers']):
        pre = f'{prefix}layers.{i}.'
        L = {'in_norm': W.around_one(pre + 'input_layernorm.weight', (d,))}
        for name, out in (('q', nH * hd), ('k', nKV * hd), ('v', nKV * hd)):
            L[name] = W.normal(f'{pre}self_attn.{name}_proj.weight', (out, d), 0.2)
            L[name + '.b'] = W.normal(f'{pre}self_attn.{name}_proj.bias', (out,), 0.2) if qkv_bias else 0
        L['o'] = W.normal(pre + 'self_attn.o_proj.weight', (d, nH * hd), 0.2)
        if cfg.get('with_inv_freq_buffer'):
            W.buffer(pre + 'self_attn.rotary_emb.inv_freq', rope_inv_freq(cfg).float())
        L['post_norm'] = W.around_one(pre + 'post_attention_layernorm.weight', (d,))
        L['gate'] = W.normal(pre + 'mlp.gate_proj.weight', (I, d), 0.2)
        L['up'] = W.normal(pre + 'mlp.up_proj.weight', (I, d), 0.2)
        L['down'] = W.normal(pre + 'mlp.down_proj.weight', (d, I), 0.2)
        p['layers'].append(L)
    p['norm'] = W.around_one(f'{prefix}norm.weight', (d,))
    return p


def llama_hidden(cfg, p, ids, mask):
    B, T = ids.shape
    nH, nKV = cfg['num_attention_heads'], cfg['num_key_value_heads']
    hd = cfg.get('head_dim') or cfg['hidden_size'] // nH
    eps = cfg['rms_norm_eps']
    freqs = generate_position_ids(mask).to(F64)[..., None] * rope_inv_freq(cfg)  # [B, T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, T, hd]
    cos, sin = emb.cos(), emb.sin()
    bias = decoder_mask(mask, T, cfg.get('sliding_window'))
    h = p['embed'][ids]
    for L in p['layers']:
        x = rms_norm(h, L['in_norm'], eps)
        q = heads(x @ L['q'].T + L['q.b'], nH)
        k = heads(x @ L['k'].T + L['k.b'], nKV)
        v = heads(x @ L['v'].T + L['v.b'], nKV)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        a = attention(q, repeat_kv(k, nH // nKV), repeat_kv(v, nH // nKV), bias, 1 / math.sqrt(hd))
        h = h + merge(a) @ L['o'].T
        x = rms_norm(h, L['post_norm'], eps)
        h = h + (torch.nn.functional.silu(x @ L['gate'].T) * (x @ L['up'].T)) @ L['down'].T
    return rms_norm(h, p['norm'], eps)


def llama_fixture(name, cfg, dtype, prefix, qkv_bias, ids, mask, seed):
    W = Weights(seed, dtype)
    p = llama_weights(cfg, W, prefix, qkv_bias)
    head = p['embed'] if cfg['tie_word_embeddings'] else W.normal('lm_head.weight', (cfg['vocab_size'], cfg['hidden_size']), 0.5)
    cfg = {k: v for k, v in cfg.items() if k != 'with_inv_freq_buffer'}
    logits = llama_hidden(cfg, p, ids, mask) @ head.T
    save_fixture(name, cfg, W.tensors, {'task': 'causal-lm', 'input_ids': ids.tolist(),
                                        'attention_mask': mask.tolist(), 'logits': masked_logits(logits, mask)})


def fixture_llama_gqa():
    """GQA 4:2, explicit head_dim ≠ hidden/heads, llama3 rope scaling, untied head, F16, `model.` prefix."""
    cfg = {'model_type': 'llama', 'architectures': ['LlamaForCausalLM'], 'vocab_size': 96, 'hidden_size': 32,
           'intermediate_size': 48, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
           'head_dim': 16, 'max_position_embeddings': 256, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0,
           'rope_scaling': {'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                            'original_max_position_embeddings': 32},
           'hidden_act': 'silu', 'tie_word_embeddings': False, 'bos_token_id': 1, 'eos_token_id': 2,
           'with_inv_freq_buffer': True}
    ids = torch.tensor([[1, 40, 7, 93, 22, 5, 61, 30], [0, 0, 1, 12, 55, 8, 27, 4]])
    mask = torch.tensor([[1] * 8, [0, 0, 1, 1, 1, 1, 1, 1]])
    llama_fixture('llama-gqa-f16', cfg, 'F16', 'model.', False, ids, mask, seed=3)


def fixture_qwen2_tied():
    """MQA (1 kv head), q/k/v biases, tied embeddings, linear rope scaling, BF16, base-model names."""
    cfg = {'model_type': 'qwen2', 'architectures': ['Qwen2ForCausalLM'], 'vocab_size': 80, 'hidden_size': 32,
           'intermediate_size': 40, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 1,
           'max_position_embeddings': 128, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0,
           'rope_scaling': {'rope_type': 'linear', 'factor': 2.0}, 'hidden_act': 'silu',
           'tie_word_embeddings': True, 'use_sliding_window': False, 'eos_token_id': 3}
    ids = torch.tensor([[9, 40, 7, 79, 22, 5, 61], [14, 2, 66, 31, 3, 3, 3]])
    mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]])
    llama_fixture('qwen2-tied-bf16', cfg, 'BF16', '', True, ids, mask, seed=4)


def fixture_mistral_window():
    """Sliding window of 3 over 8 tokens."""
    cfg = {'model_type': 'mistral', 'architectures': ['MistralForCausalLM'], 'vocab_size': 64, 'hidden_size': 24,
           'intermediate_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
           'max_position_embeddings': 64, 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0, 'sliding_window': 3,
           'hidden_act': 'silu', 'tie_word_embeddings': False}
    ids = torch.tensor([[1, 40, 7, 33, 22, 5, 61, 30]])
    mask = torch.tensor([[1] * 8])
    llama_fixture('mistral-window', cfg, 'F32', 'model.', False, ids, mask, seed=5)


# ---- BERT / RoBERTa (modeling_bert.py, modeling_roberta.py) ---------------------------------------

def bert_weights(cfg, W, prefix, old_names):
    d, I = cfg['hidden_size'], cfg['intermediate_size']
    e = f'{prefix}embeddings.'
    ln_w, ln_b = ('gamma', 'beta') if old_names else ('weight', 'bias')
    p = {'word': W.normal(e + 'word_embeddings.weight', (cfg['vocab_size'], d), 1.0),
         'pos': W.normal(e + 'position_embeddings.weight', (cfg['max_position_embeddings'], d), 0.5),
         'type': W.normal(e + 'token_type_embeddings.weight', (cfg['type_vocab_size'], d), 0.5),
         'ln.w': W.around_one(f'{e}LayerNorm.{ln_w}', (d,)), 'ln.b': W.normal(f'{e}LayerNorm.{ln_b}', (d,), 0.1),
         'layers': []}
    W.buffer(e + 'position_ids', torch.arange(cfg['max_position_embeddings'])[None].float())

    def dense(name, i, o):
        return W.normal(name + '.weight', (o, i), 0.2), W.normal(name + '.bias', (o,), 0.1)

    for i in range(cfg['num_hidden_layers']):
        pre = f'{prefix}encoder.layer.{i}.'
        L = {}
        for n in ('query', 'key', 'value'):
            L[n] = dense(pre + 'attention.self.' + n, d, d)
        L['attn_out'] = dense(pre + 'attention.output.dense', d, d)
        L['attn_ln'] = (W.around_one(pre + 'attention.output.LayerNorm.weight', (d,)),
                        W.normal(pre + 'attention.output.LayerNorm.bias', (d,), 0.1))
        L['inter'] = dense(pre + 'intermediate.dense', d, I)
        L['out'] = dense(pre + 'output.dense', I, d)
        L['out_ln'] = (W.around_one(pre + 'output.LayerNorm.weight', (d,)),
                       W.normal(pre + 'output.LayerNorm.bias', (d,), 0.1))
        p['layers'].append(L)
    p['dense'] = dense
    return p


def bert_hidden(cfg, p, ids, mask, token_types):
    B, T = ids.shape
    nH, eps = cfg['num_attention_heads'], cfg['layer_norm_eps']
    if cfg['model_type'] == 'roberta':  # create_position_ids_from_input_ids
        pad = cfg['pad_token_id']
        real = (ids != pad).long()
        pos = torch.cumsum(real, dim=1) * real + pad
    else:
        pos = torch.arange(T)[None].expand(B, T)
    h = layer_norm(p['word'][ids] + p['type'][token_types] + p['pos'][pos], p['ln.w'], p['ln.b'], eps)
    bias = (1.0 - mask[:, None, None, :].to(F64)) * MIN
    lin = lambda x, wb: x @ wb[0].T + wb[1]
    for L in p['layers']:
        q, k, v = (heads(lin(h, L[n]), nH) for n in ('query', 'key', 'value'))
        a = merge(attention(q, k, v, bias, 1 / math.sqrt(cfg['hidden_size'] // nH)))
        a = layer_norm(lin(a, L['attn_out']) + h, *L['attn_ln'], eps)
        h = layer_norm(lin(gelu(lin(a, L['inter'])), L['out']) + a, *L['out_ln'], eps)
    return h


def bert_fixture(name, cfg, prefix, ids, mask, token_types, seed, old_names=False):
    W = Weights(seed, 'F32')
    p = bert_weights(cfg, W, prefix, old_names)
    d, nL = cfg['hidden_size'], cfg['num_labels']
    h = bert_hidden(cfg, p, ids, mask, token_types)
    first = h[:, 0]
    if cfg['model_type'] == 'bert':
        pooler = p['dense'](f'{prefix}pooler.dense', d, d)
        clf = p['dense']('classifier', d, nL)
        logits = torch.tanh(first @ pooler[0].T + pooler[1]) @ clf[0].T + clf[1]
    else:  # RobertaClassificationHead
        dense = p['dense']('classifier.dense', d, d)
        out = p['dense']('classifier.out_proj', d, nL)
        logits = torch.tanh(first @ dense[0].T + dense[1]) @ out[0].T + out[1]
    expected = {'task': 'sequence-classification', 'input_ids': ids.tolist(), 'attention_mask': mask.tolist(),
                'logits': [[round6(v) for v in row] for row in logits.tolist()]}
    if token_types is not None and cfg['type_vocab_size'] > 1:
        expected['token_type_ids'] = token_types.tolist()
    save_fixture(name, cfg, W.tensors, expected)


def fixture_bert():
    """Exact-erf gelu, token type ids, right padding, old LayerNorm.gamma/beta names in the embeddings."""
    cfg = {'model_type': 'bert', 'architectures': ['BertForSequenceClassification'], 'vocab_size': 64,
           'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'intermediate_size': 48,
           'hidden_act': 'gelu', 'max_position_embeddings': 16, 'type_vocab_size': 2, 'layer_norm_eps': 1e-12,
           'pad_token_id': 0, 'num_labels': 3}
    ids = torch.tensor([[2, 17, 33, 3, 40, 9, 3], [2, 5, 60, 3, 0, 0, 0]])
    mask = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]])
    bert_fixture('bert-cls', cfg, 'bert.', ids, mask, types, seed=6, old_names=True)


def fixture_roberta():
    """Positions from padding_idx + 1, no pooler, classifier.{dense, out_proj}."""
    cfg = {'model_type': 'roberta', 'architectures': ['RobertaForSequenceClassification'], 'vocab_size': 64,
           'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'intermediate_size': 48,
           'hidden_act': 'gelu', 'max_position_embeddings': 18, 'type_vocab_size': 1, 'layer_norm_eps': 1e-5,
           'pad_token_id': 1, 'bos_token_id': 0, 'eos_token_id': 2, 'num_labels': 2}
    ids = torch.tensor([[0, 17, 33, 8, 40, 9, 2], [0, 5, 60, 2, 1, 1, 1]])
    mask = (ids != 1).long()
    bert_fixture('roberta-cls', cfg, 'roberta.', ids, mask, torch.zeros_like(ids), seed=7)


# ---- T5 (modeling_t5.py) ------------------------------------------------------------------------

def t5_bucket(rel, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket; the log term on relative_position.float() (float32), as HF."""
    buckets = torch.zeros_like(rel)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (rel > 0).long() * num_buckets
        rel = torch.abs(rel)
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, rel, large)


def t5_position_bias(cfg, table, q_len, k_len, bidirectional):
    """T5Attention.compute_bias: [1, nH, q_len, k_len]."""
    rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]
    b = t5_bucket(rel, bidirectional, cfg['relative_attention_num_buckets'], cfg['relative_attention_max_distance'])
    return table[b].permute(2, 0, 1)[None]


def t5_weights(cfg, W, old_copies):
    d, nH, dkv, dff = cfg['d_model'], cfg['num_heads'], cfg['d_kv'], cfg['d_ff']
    inner, gated = nH * dkv, cfg['feed_forward_proj'].startswith('gated-')
    p = {'shared': W.normal('shared.weight', (cfg['vocab_size'], d), 1.0)}

    def attn(pre):
        A = {x: W.normal(f'{pre}.{x}.weight', (inner, d), 0.3) for x in 'qkv'}
        A['o'] = W.normal(f'{pre}.o.weight', (d, inner), 0.3)
        return A

    for stack, n in (('encoder', cfg['num_layers']), ('decoder', cfg.get('num_decoder_layers', cfg['num_layers']))):
        blocks = []
        for i in range(n):
            pre = f'{stack}.block.{i}.layer.'
            B = {'sa': attn(pre + '0.SelfAttention')}
            if i == 0:
                B['rel'] = W.normal(pre + '0.SelfAttention.relative_attention_bias.weight',
                                    (cfg['relative_attention_num_buckets'], nH), 0.5)
            B['sa_norm'] = W.around_one(pre + '0.layer_norm.weight', (d,))
            ff = '1'
            if stack == 'decoder':
                B['ca'] = attn(pre + '1.EncDecAttention')
                B['ca_norm'] = W.around_one(pre + '1.layer_norm.weight', (d,))
                ff = '2'
            if gated:
                B['wi_0'] = W.normal(f'{pre}{ff}.DenseReluDense.wi_0.weight', (dff, d), 0.3)
                B['wi_1'] = W.normal(f'{pre}{ff}.DenseReluDense.wi_1.weight', (dff, d), 0.3)
            else:
                B['wi'] = W.normal(f'{pre}{ff}.DenseReluDense.wi.weight', (dff, d), 0.3)
            B['wo'] = W.normal(f'{pre}{ff}.DenseReluDense.wo.weight', (d, dff), 0.3)
            B['ff_norm'] = W.around_one(f'{pre}{ff}.layer_norm.weight', (d,))
            blocks.append(B)
        p[stack] = blocks
        p[stack + '.final'] = W.around_one(f'{stack}.final_layer_norm.weight', (d,))
    if not cfg['tie_word_embeddings']:
        p['lm_head'] = W.normal('lm_head.weight', (cfg['vocab_size'], d), 0.5)
    if old_copies:
        # what old v1.0 Hub checkpoints (t5-small) also hold: copies of `shared` and an unused cross-attention bias
        for name in ('encoder.embed_tokens.weight', 'decoder.embed_tokens.weight', 'lm_head.weight'):
            W.buffer(name, p['shared'].float())
        W.buffer('decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight',
                 torch.randn(cfg['relative_attention_num_buckets'], nH, generator=W.g, dtype=F64).float())
    return p


def t5_ff(cfg, B, x):
    act = torch.relu if cfg['feed_forward_proj'] == 'relu' else gelu_new  # 'gated-gelu' is gelu_new (T5Config)
    if 'wi' in B:
        return act(x @ B['wi'].T) @ B['wo'].T
    return (act(x @ B['wi_0'].T) * (x @ B['wi_1'].T)) @ B['wo'].T


def t5_attn(cfg, A, x, kv, bias):
    nH = cfg['num_heads']
    return merge(attention(heads(x @ A['q'].T, nH), heads(kv @ A['k'].T, nH), heads(kv @ A['v'].T, nH), bias, 1.0)) @ A['o'].T


def t5_logits(cfg, p, ids, mask, dec_ids):
    eps = cfg['layer_norm_epsilon']
    S, T = ids.shape[1], dec_ids.shape[1]
    ext = (1.0 - mask[:, None, None, :].to(F64)) * MIN  # get_extended_attention_mask
    h = p['shared'][ids]
    bias = t5_position_bias(cfg, p['encoder'][0]['rel'], S, S, True) + ext
    for B in p['encoder']:
        h = h + t5_attn(cfg, B['sa'], rms_norm(h, B['sa_norm'], eps), rms_norm(h, B['sa_norm'], eps), bias)
        h = h + t5_ff(cfg, B, rms_norm(h, B['ff_norm'], eps))
    enc = rms_norm(h, p['encoder.final'], eps)
    causal = torch.zeros(T, T, dtype=F64).masked_fill(torch.arange(T)[None, :] > torch.arange(T)[:, None], MIN)
    bias = t5_position_bias(cfg, p['decoder'][0]['rel'], T, T, False) + causal[None, None]
    h = p['shared'][dec_ids]
    for B in p['decoder']:
        x = rms_norm(h, B['sa_norm'], eps)
        h = h + t5_attn(cfg, B['sa'], x, x, bias)
        h = h + t5_attn(cfg, B['ca'], rms_norm(h, B['ca_norm'], eps), enc, ext)
        h = h + t5_ff(cfg, B, rms_norm(h, B['ff_norm'], eps))
    h = rms_norm(h, p['decoder.final'], eps)
    if cfg['tie_word_embeddings']:
        return (h * cfg['d_model'] ** -0.5) @ p['shared'].T  # T5ForConditionalGeneration rescales before a tied head
    return h @ p['lm_head'].T


def t5_shift_right(labels, start, pad):
    """T5PreTrainedModel._shift_right."""
    out = torch.zeros_like(labels)
    out[:, 1:] = labels[:, :-1]
    out[:, 0] = start
    return out.masked_fill(out == -100, pad)


def t5_fixture(name, cfg, ids, mask, labels, seed, old_copies):
    W = Weights(seed, 'F32')
    p = t5_weights(cfg, W, old_copies)
    dec_ids = t5_shift_right(labels, cfg['decoder_start_token_id'], cfg['pad_token_id'])
    logits = t5_logits(cfg, p, ids, mask, dec_ids)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg['vocab_size']), labels.reshape(-1), ignore_index=-100)
    save_fixture(name, cfg, W.tensors, {
        'task': 'seq2seq-lm', 'input_ids': ids.tolist(), 'attention_mask': mask.tolist(), 'labels': labels.tolist(),
        'decoder_input_ids': dec_ids.tolist(), 'logits': [[[round6(v) for v in row] for row in b] for b in logits.tolist()],
        'loss': float(f'{loss.item():.10g}')})


def fixture_t5_v1_0():
    """v1.0 style: relu, tied (rescaled) head, d_kv·heads ≠ d_model, 2 encoder / 3 decoder blocks, log buckets, old copies."""
    cfg = {'model_type': 't5', 'architectures': ['T5ForConditionalGeneration'], 'vocab_size': 64, 'd_model': 16,
           'd_kv': 8, 'd_ff': 32, 'num_layers': 2, 'num_decoder_layers': 3, 'num_heads': 3,
           'relative_attention_num_buckets': 8, 'relative_attention_max_distance': 12, 'dropout_rate': 0.1,
           'layer_norm_epsilon': 1e-6, 'feed_forward_proj': 'relu', 'tie_word_embeddings': True,
           'is_encoder_decoder': True, 'decoder_start_token_id': 0, 'pad_token_id': 0, 'eos_token_id': 1}
    ids = torch.tensor([[13, 40, 7, 59, 22, 5, 61, 30, 1], [8, 17, 33, 1, 0, 0, 0, 0, 0]])
    labels = torch.tensor([[21, 9, 44, 3, 12, 1], [50, 6, 1, -100, -100, -100]])
    t5_fixture('t5-v1_0-tied', cfg, ids, (ids != 0).long(), labels, seed=11, old_copies=True)


def fixture_t5_v1_1():
    """v1.1 / flan-t5 style: gated-gelu (gelu_new), untied lm_head, more buckets than positions reach."""
    cfg = {'model_type': 't5', 'architectures': ['T5ForConditionalGeneration'], 'vocab_size': 72, 'd_model': 16,
           'd_kv': 4, 'd_ff': 24, 'num_layers': 2, 'num_heads': 4, 'relative_attention_num_buckets': 16,
           'relative_attention_max_distance': 20, 'dropout_rate': 0.0, 'layer_norm_epsilon': 1e-6,
           'feed_forward_proj': 'gated-gelu', 'tie_word_embeddings': False, 'is_encoder_decoder': True,
           'decoder_start_token_id': 0, 'pad_token_id': 0, 'eos_token_id': 1}
    ids = torch.tensor([[4, 19, 70, 2, 33, 9, 27, 12, 45, 66, 1], [5, 60, 14, 31, 1, 0, 0, 0, 0, 0, 0]])
    labels = torch.tensor([[30, 2, 64, 1], [11, 1, -100, -100]])
    t5_fixture('t5-v1_1-gated', cfg, ids, (ids != 0).long(), labels, seed=12, old_copies=False)


if __name__ == '__main__':
    torch.manual_seed(0)
    fixture_gpt2_lm()
    fixture_gpt2_cls()
    fixture_llama_gqa()
    fixture_qwen2_tied()
    fixture_mistral_window()
    fixture_bert()
    fixture_roberta()
    fixture_t5_v1_0()
    fixture_t5_v1_1()

"""PyTorch side of `npm run bench:scale` (src/bench/scale.ts): a Llama-family decoder of a config.json's
shapes (hidden, intermediate, layers, heads, key/value heads, vocabulary, tied head, Qwen2's q/k/v
biases), float32, random N(0, 0.02) weights (bench:scale's folders are random too, so nothing is read
but config.json), LoRA r 8 alpha 16 on every linear layer of the blocks (PEFT's all-linear), AdamW on
the adapters, gradient clipping at 1, causal-LM loss on random ids of one batch × length.

  python3 scripts/torch_scale_bench.py --config DIR/config.json --batch 4 --length 256 --steps 3 --threads 2
  -> one JSON line: {"tokens_per_s": median over the steps after the first, "step_ms": [...], "peak_rss_mb": ...}

Run with the system python3 where Debian's python3-torch is installed.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoraLinear(nn.Module):
    def __init__(self, d_in, d_out, bias, rank, alpha=16):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in) * 0.02, requires_grad=False)
        self.bias = nn.Parameter(torch.zeros(d_out), requires_grad=False) if bias else None
        self.lora_A = nn.Parameter(torch.randn(rank, d_in) / math.sqrt(d_in))
        self.lora_B = nn.Parameter(torch.zeros(d_out, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(t, dh, theta):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2).float() / dh))
    freqs = torch.outer(torch.arange(t).float(), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


class Block(nn.Module):
    def __init__(self, c, rank):
        super().__init__()
        d, i = c["hidden_size"], c["intermediate_size"]
        self.nh, self.nkv = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
        self.hd = c.get("head_dim") or d // self.nh
        qkv_bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(d, eps), RMSNorm(d, eps)
        self.q_proj = LoraLinear(d, self.nh * self.hd, qkv_bias, rank)
        self.k_proj = LoraLinear(d, self.nkv * self.hd, qkv_bias, rank)
        self.v_proj = LoraLinear(d, self.nkv * self.hd, qkv_bias, rank)
        self.o_proj = LoraLinear(self.nh * self.hd, d, False, rank)
        self.gate_proj, self.up_proj, self.down_proj = LoraLinear(d, i, False, rank), LoraLinear(d, i, False, rank), LoraLinear(i, d, False, rank)

    def forward(self, x, mask, cos, sin):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        heads = lambda z, n: z.view(b, t, n, self.hd).transpose(1, 2)
        q = rotate(heads(self.q_proj(h), self.nh), cos, sin)
        k = rotate(heads(self.k_proj(h), self.nkv), cos, sin).repeat_interleave(self.nh // self.nkv, dim=1)
        v = heads(self.v_proj(h), self.nkv).repeat_interleave(self.nh // self.nkv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, self.nh * self.hd))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Decoder(nn.Module):
    def __init__(self, c, rank, length):
        super().__init__()
        d, v = c["hidden_size"], c["vocab_size"]
        self.embed = nn.Parameter(torch.randn(v, d) * 0.02, requires_grad=False)
        self.blocks = nn.ModuleList(Block(c, rank) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(d, c.get("rms_norm_eps", 1e-6))
        self.head = None if c.get("tie_word_embeddings", False) else nn.Parameter(torch.randn(v, d) * 0.02, requires_grad=False)
        hd = c.get("head_dim") or d // c["num_attention_heads"]
        cos, sin = rope_tables(length, hd, c.get("rope_theta", 10000.0))
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        self.register_buffer("mask", torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1))

    def forward(self, ids):
        x = self.embed[ids]
        for block in self.blocks:
            x = block(x, self.mask, self.cos, self.sin)
        return F.linear(self.norm(x), self.embed if self.head is None else self.head)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--length", type=int, required=True)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rank", type=int, default=8)
    a = p.parse_args()
    with open(a.config) as f:
        config = json.load(f)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = Decoder(config, a.rank, a.length)
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, config["vocab_size"], (a.batch, a.length), generator=torch.Generator().manual_seed(7))
    times = []
    for _ in range(a.steps):
        start = time.perf_counter()
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, config["vocab_size"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        loss.item()
        times.append(time.perf_counter() - start)
    timed = sorted(times[1:] or times)
    med = timed[len(timed) // 2] if len(timed) % 2 else (timed[len(timed) // 2 - 1] + timed[len(timed) // 2]) / 2
    print(json.dumps({"tokens_per_s": a.batch * a.length / med, "step_ms": [t * 1000 for t in times], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

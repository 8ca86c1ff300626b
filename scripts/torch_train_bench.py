"""PyTorch reference for `npm run bench:torch` (src/bench/torch.ts): the same decoders, LoRA and training
step as lorapro's bench:train, driven over stdin/stdout one JSON line at a time so that the two are timed
in interleaved rounds by one command.

  {"cmd": "setup", "arch": "gpt2"|"llama", "d": 128, "layers": 4, "heads": 4, "vocab": 1024,
   "context": 128, "batch": 16, "rank": 8, "method": "full"|"lora", "threads": 1}
      -> {"trainable": N}
  {"cmd": "step"}  -> {"ms": wall time of one training step}
  {"cmd": "rss"}   -> {"peak_rss_mb": peak resident set size of this process}

Models: GPT-2 (learned positions, pre-LayerNorm, gelu_new, tied head) and Llama (RoPE, RMSNorm, SwiGLU
with intermediate 4d, untied head), no biases where Hugging Face's have none; init N(0, 0.02) as the TS
bench (N(0, 1) embeddings make softmax gradients denormal and this side ~50x slower). LoRA on every
linear layer but the head (PEFT's "all-linear"), B zero, alpha 16; AdamW, gradient clipping at 1.
Run with the system python3 where Debian's python3-torch is installed.
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LoraLinear(nn.Module):
    def __init__(self, d_in, d_out, bias, rank, alpha):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in) * 0.02)
        self.bias = nn.Parameter(torch.zeros(d_out)) if bias else None
        self.rank = rank
        if rank > 0:
            self.lora_A = nn.Parameter(torch.randn(rank, d_in) / math.sqrt(d_in))
            self.lora_B = nn.Parameter(torch.zeros(d_out, rank))
            self.scale = alpha / rank

    def forward(self, x):
        y = F.linear(x, self.weight, self.bias)
        if self.rank > 0:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale
        return y


def causal_attention(q, k, v, mask):
    # q, k, v: [b, h, t, dh]
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class Gpt2Block(nn.Module):
    def __init__(self, d, heads, lin):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.attn_proj = lin(d, 3 * d, True), lin(d, d, True)
        self.c_fc, self.mlp_proj = lin(d, 4 * d, True), lin(4 * d, d, True)

    def forward(self, x, mask):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=-1)
        split = lambda z: z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        a = causal_attention(split(q), split(k), split(v), mask).transpose(1, 2).reshape(b, t, d)
        x = x + self.attn_proj(a)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(t, dh, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2).float() / dh))
    freqs = torch.outer(torch.arange(t).float(), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class LlamaBlock(nn.Module):
    def __init__(self, d, heads, lin):
        super().__init__()
        self.heads = heads
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(d), RMSNorm(d)
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (lin(d, d, False) for _ in range(4))
        self.gate_proj, self.up_proj, self.down_proj = lin(d, 4 * d, False), lin(d, 4 * d, False), lin(4 * d, d, False)

    def forward(self, x, mask, cos, sin):
        b, t, d = x.shape
        h = self.input_layernorm(x)
        split = lambda z: z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = rotate(split(self.q_proj(h)), cos, sin), rotate(split(self.k_proj(h)), cos, sin), split(self.v_proj(h))
        x = x + self.o_proj(causal_attention(q, k, v, mask).transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class Decoder(nn.Module):
    def __init__(self, arch, d, layers, heads, vocab, context, rank):
        super().__init__()
        lin = lambda i, o, bias: LoraLinear(i, o, bias, rank, 16)
        self.arch, self.heads = arch, heads
        self.wte = nn.Parameter(torch.randn(vocab, d) * 0.02)
        if arch == "gpt2":
            self.wpe = nn.Parameter(torch.randn(context, d) * 0.02)
            self.blocks = nn.ModuleList(Gpt2Block(d, heads, lin) for _ in range(layers))
            self.norm = nn.LayerNorm(d)
            self.head = None  # tied to wte
        else:
            self.blocks = nn.ModuleList(LlamaBlock(d, heads, lin) for _ in range(layers))
            self.norm = RMSNorm(d)
            self.head = nn.Parameter(torch.randn(vocab, d) * 0.02)
            cos, sin = rope_tables(context, d // heads)
            self.register_buffer("cos", cos)
            self.register_buffer("sin", sin)
        self.register_buffer("mask", torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1))

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte[ids]
        mask = self.mask[:t, :t]
        if self.arch == "gpt2":
            x = x + self.wpe[:t]
            for block in self.blocks:
                x = block(x, mask)
        else:
            for block in self.blocks:
                x = block(x, mask, self.cos[:t], self.sin[:t])
        return F.linear(self.norm(x), self.wte if self.head is None else self.head)


class Bench:
    def __init__(self, spec):
        torch.manual_seed(0)
        torch.set_num_threads(int(spec["threads"]))
        lora = spec["method"] == "lora"
        self.model = Decoder(spec["arch"], spec["d"], spec["layers"], spec["heads"], spec["vocab"], spec["context"], spec["rank"] if lora else 0)
        if lora:
            for name, p in self.model.named_parameters():
                p.requires_grad = "lora_" in name
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=1e-4, weight_decay=0.0)
        g = torch.Generator().manual_seed(7)
        self.ids = torch.randint(0, spec["vocab"], (spec["batch"], spec["context"]), generator=g)
        self.vocab = spec["vocab"]

    def step(self):
        logits = self.model(self.ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, self.vocab), self.ids[:, 1:].reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        return loss.item()


def main():
    bench = None
    for line in sys.stdin:
        req = json.loads(line)
        if req["cmd"] == "setup":
            bench = None
            bench = Bench(req)
            out = {"trainable": sum(p.numel() for p in bench.params), "torch": torch.__version__}
        elif req["cmd"] == "step":
            start = time.perf_counter()
            bench.step()
            out = {"ms": (time.perf_counter() - start) * 1000}
        elif req["cmd"] == "rss":
            out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        else:
            out = {"error": f"unknown cmd {req['cmd']}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

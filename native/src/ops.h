// Row-wise softmax (forward, backward) and the fused AdamW update: the memory-bound kernels of a training
// step that TF.js runs as several passes each (see docs/ARCHITECTURE.md). Each works on a range of rows or
// elements so the pool can split it; AVX2 code where the CPU has it (picked like the GEMM's), else portable.
#pragma once
#include <cstdint>

#include "gemm.h"

namespace lorapro {

// y[r] = softmax(x[r] + bias[row(r)]) over `cols` for rows [r0, r1). bias may be null; else row r adds
// bias row ((r / group) % bias_groups) * period + r % period: an attention bias [Bb, 1, T, S] broadcast
// over [B, nH, T, S] has period T, group nH·T, bias_groups Bb. lse (may be null) gets each row's
// log Σ exp(x + bias).
struct SoftmaxArgs {
  const float* x;
  const float* bias;
  float* y;
  float* lse;
  int64_t cols, period, group, bias_groups;
};
void softmax_rows(Isa isa, const SoftmaxArgs& a, int64_t r0, int64_t r1);

// dx = y·(dy − Σ dy·y) per row, for rows [r0, r1).
void softmax_grad_rows(Isa isa, const float* y, const float* dy, float* dx, int64_t cols, int64_t r0, int64_t r1);

// One AdamW step on elements [i0, i1), in TF.js's order of float32 operations (optim/adamw.ts):
//   g' = g·g_scale;  m' = m·β1 + g'·(1−β1);  v' = v·β2 + g'²·(1−β2)
//   d = (m' / bc1) / (√v' / √bc2 + ε);  p' = p·decay − d·lr   (p null: out = d, the direction alone)
struct AdamArgs {
  const float* p;
  const float* g;
  const float* m;
  const float* v;
  float* out;
  float* m_out;
  float* v_out;
  float g_scale, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bc1, sqrt_bc2, lr, decay;
};
void adam_range(Isa isa, const AdamArgs& a, int64_t i0, int64_t i1);

// Llama's gated MLP activation on elements [i0, i1): h = silu(g)·u, silu(g) = g·σ(g); and its backward,
// du = dh·silu(g), dg = dh·u·σ(g)·(1 + g·(1 − σ(g))), σ recomputed (no [B, T, I] tensor saved for it).
void swiglu_range(Isa isa, const float* g, const float* u, float* h, int64_t i0, int64_t i1);
void swiglu_grad_range(Isa isa, const float* g, const float* u, const float* dh, float* dg, float* du, int64_t i0, int64_t i1);

// GPT-2's gelu_new as x·σ(2u), 2u = x·(c1 + c2·x²) (models/layers.ts), on elements [i0, i1): writes
// y = x·s and s = σ(2u), which the backward pass reads.
void gelu_new_range(Isa isa, const float* x, float* y, float* s, float c1, float c2, int64_t i0, int64_t i1);

// LoRA-Pro's r×r Grams in double from float32 factors (optim/lora-pro.ts): out[i·r + j] =
//   by_rows: Σ_k x[k·r + i]·y[k·r + j] over `len` rows of two [len, r] matrices (Bᵀ·B, Bᵀ·gB);
//   else:    Σ_k x[i·len + k]·y[j·len + k] over `len` columns of two [r, len] matrices (A·Aᵀ, gA·Aᵀ).
// Single-threaded: r²·len is tens of thousands of multiply-adds.
void gram(Isa isa, const float* x, const float* y, int64_t len, int64_t r, bool by_rows, double* out);

}  // namespace lorapro

// Softmax rows, the AdamW update, SwiGLU, gelu_new and LoRA-Pro's Gram (ops.h). Each has a portable loop and an AVX2 one; AVX-512 CPUs take
// the AVX2 code too (these kernels are bound by memory, not by vector width).
#include "ops.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) || defined(_M_X64)
#define LORAPRO_X86 1
#include <immintrin.h>
#endif

namespace lorapro {
namespace {

const float* bias_row(const SoftmaxArgs& a, int64_t r) {
  if (a.bias == nullptr) return nullptr;
  return a.bias + (((r / a.group) % a.bias_groups) * a.period + r % a.period) * a.cols;
}

void softmax_portable(const SoftmaxArgs& a, int64_t r0, int64_t r1) {
  const int64_t n = a.cols;
  for (int64_t r = r0; r < r1; r++) {
    const float* x = a.x + r * n;
    const float* b = bias_row(a, r);
    float* y = a.y + r * n;
    float top = -INFINITY;
    for (int64_t j = 0; j < n; j++) y[j] = b ? x[j] + b[j] : x[j];
    for (int64_t j = 0; j < n; j++) top = std::max(top, y[j]);
    float sum = 0;
    for (int64_t j = 0; j < n; j++) sum += (y[j] = std::exp(y[j] - top));
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; j++) y[j] *= inv;
    if (a.lse) a.lse[r] = top + std::log(sum);
  }
}

void softmax_grad_portable(const float* y, const float* dy, float* dx, int64_t n, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; r++) {
    const float *yr = y + r * n, *gr = dy + r * n;
    float dot = 0;
    for (int64_t j = 0; j < n; j++) dot += yr[j] * gr[j];
    for (int64_t j = 0; j < n; j++) dx[r * n + j] = yr[j] * (gr[j] - dot);
  }
}

inline float adam_one(const AdamArgs& a, int64_t i, float* m1, float* v1) {
  const float g = a.g[i] * a.g_scale;
  *m1 = a.m[i] * a.beta1 + g * a.one_minus_beta1;
  *v1 = a.v[i] * a.beta2 + (g * g) * a.one_minus_beta2;
  const float d = (*m1 / a.bc1) / (std::sqrt(*v1) / a.sqrt_bc2 + a.eps);
  return a.p ? a.p[i] * a.decay - d * a.lr : d;
}

void adam_portable(const AdamArgs& a, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) {
    float m1, v1;
    const float out = adam_one(a, i, &m1, &v1);
    a.m_out[i] = m1, a.v_out[i] = v1, a.out[i] = out;
  }
}

// σ(x) from e^−|x| (never overflows): 1/(1 + e) for x ≥ 0, e/(1 + e) below.
inline float sigmoid(float x) {
  const float e = std::exp(-std::fabs(x));
  return (x >= 0 ? 1.0f : e) / (1.0f + e);
}

void swiglu_portable(const float* g, const float* u, float* h, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) h[i] = g[i] * sigmoid(g[i]) * u[i];
}

void swiglu_grad_portable(const float* g, const float* u, const float* dh, float* dg, float* du, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) {
    const float s = sigmoid(g[i]);
    du[i] = dh[i] * g[i] * s;
    dg[i] = dh[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

void gelu_new_portable(const float* x, float* y, float* s, float c1, float c2, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; i++) {
    const float v = x[i], sg = sigmoid(v * (v * v * c2 + c1));
    s[i] = sg, y[i] = v * sg;
  }
}

#ifdef LORAPRO_X86
// e^x for x ≤ 0 (Cephes' expf: e^x = 2^k·e^f, |f| ≤ ln2/2, a degree-6 polynomial; ~1 ulp); below −87.3
// it returns 0, as expf underflows there, so masked scores (−1e9) get exactly zero weight.
__attribute__((target("avx2,fma"))) inline __m256 exp_avx2(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  const __m256i k = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(k)));
}

__attribute__((target("avx2,fma"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}

__attribute__((target("avx2,fma"))) inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps(s, s, 1)));
}

// A mask of the first `rest` (< 8) lanes, for row tails.
__attribute__((target("avx2,fma"))) inline __m256i tail_mask(int64_t rest) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(rest)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma"))) void softmax_avx2(const SoftmaxArgs& a, int64_t r0, int64_t r1) {
  const int64_t n = a.cols, full = n / 8 * 8;
  const __m256i tail = tail_mask(n - full);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  for (int64_t r = r0; r < r1; r++) {
    const float* x = a.x + r * n;
    const float* b = bias_row(a, r);
    float* y = a.y + r * n;
    // y = x + bias and its max; then y = e^(y − max) and its sum; then y /= sum
    __m256 top = ninf;
    for (int64_t j = 0; j < full; j += 8) {
      __m256 s = _mm256_loadu_ps(x + j);
      if (b) s = _mm256_add_ps(s, _mm256_loadu_ps(b + j));
      _mm256_storeu_ps(y + j, s);
      top = _mm256_max_ps(top, s);
    }
    if (full < n) {
      __m256 s = _mm256_maskload_ps(x + full, tail);
      if (b) s = _mm256_add_ps(s, _mm256_maskload_ps(b + full, tail));
      _mm256_maskstore_ps(y + full, tail, s);
      top = _mm256_max_ps(top, _mm256_blendv_ps(ninf, s, _mm256_castsi256_ps(tail)));
    }
    const float mx = hmax(top);
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < full; j += 8) {
      const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(y + j), vmx));
      _mm256_storeu_ps(y + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    if (full < n) {
      const __m256 e = _mm256_and_ps(exp_avx2(_mm256_sub_ps(_mm256_maskload_ps(y + full, tail), vmx)), _mm256_castsi256_ps(tail));
      _mm256_maskstore_ps(y + full, tail, e);
      acc = _mm256_add_ps(acc, e);
    }
    const float sum = hsum(acc);
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int64_t j = 0; j < full; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), inv));
    for (int64_t j = full; j < n; j++) y[j] *= 1.0f / sum;
    if (a.lse) a.lse[r] = mx + std::log(sum);
  }
}

__attribute__((target("avx2,fma"))) void softmax_grad_avx2(const float* y, const float* dy, float* dx, int64_t n, int64_t r0, int64_t r1) {
  const int64_t full = n / 8 * 8;
  for (int64_t r = r0; r < r1; r++) {
    const float *yr = y + r * n, *gr = dy + r * n;
    float* out = dx + r * n;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < full; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(yr + j), _mm256_loadu_ps(gr + j), acc);
    float dot = hsum(acc);
    for (int64_t j = full; j < n; j++) dot += yr[j] * gr[j];
    const __m256 vdot = _mm256_set1_ps(dot);
    for (int64_t j = 0; j < full; j += 8)
      _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), _mm256_sub_ps(_mm256_loadu_ps(gr + j), vdot)));
    for (int64_t j = full; j < n; j++) out[j] = yr[j] * (gr[j] - dot);
  }
}

__attribute__((target("avx2,fma"))) inline __m256 sigmoid_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 neg_abs = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));  // −|x|
  const __m256 e = exp_avx2(neg_abs);
  const __m256 num = _mm256_blendv_ps(one, e, x);  // x's sign bit picks e (x < 0) or 1
  return _mm256_div_ps(num, _mm256_add_ps(one, e));
}

__attribute__((target("avx2,fma"))) void swiglu_avx2(const float* g, const float* u, float* h, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_mul_ps(x, sigmoid_avx2(x)), _mm256_loadu_ps(u + i)));
  }
  swiglu_portable(g, u, h, i, i1);
}

__attribute__((target("avx2,fma"))) void swiglu_grad_avx2(const float* g, const float* u, const float* dh, float* dg, float* du, int64_t i0, int64_t i1) {
  const __m256 one = _mm256_set1_ps(1.0f);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i), d = _mm256_loadu_ps(dh + i);
    const __m256 s = sigmoid_avx2(x);
    _mm256_storeu_ps(du + i, _mm256_mul_ps(_mm256_mul_ps(d, x), s));
    const __m256 t = _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, s)));
    _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), s), t));
  }
  swiglu_grad_portable(g, u, dh, dg, du, i, i1);
}

__attribute__((target("avx2,fma"))) void gelu_new_avx2(const float* x, float* y, float* s, float c1, float c2, int64_t i0, int64_t i1) {
  const __m256 vc1 = _mm256_set1_ps(c1), vc2 = _mm256_set1_ps(c2);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 sg = sigmoid_avx2(_mm256_mul_ps(v, _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(v, v), vc2), vc1)));
    _mm256_storeu_ps(s + i, sg);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, sg));
  }
  gelu_new_portable(x, y, s, c1, c2, i, i1);
}

__attribute__((target("avx2,fma"))) void adam_avx2(const AdamArgs& a, int64_t i0, int64_t i1) {
  const __m256 gs = _mm256_set1_ps(a.g_scale), b1 = _mm256_set1_ps(a.beta1), c1 = _mm256_set1_ps(a.one_minus_beta1);
  const __m256 b2 = _mm256_set1_ps(a.beta2), c2 = _mm256_set1_ps(a.one_minus_beta2), eps = _mm256_set1_ps(a.eps);
  const __m256 bc1 = _mm256_set1_ps(a.bc1), sbc2 = _mm256_set1_ps(a.sqrt_bc2), lr = _mm256_set1_ps(a.lr), decay = _mm256_set1_ps(a.decay);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(a.g + i), gs);
    const __m256 m1 = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(a.m + i), b1), _mm256_mul_ps(g, c1));
    const __m256 v1 = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(a.v + i), b2), _mm256_mul_ps(_mm256_mul_ps(g, g), c2));
    const __m256 d = _mm256_div_ps(_mm256_div_ps(m1, bc1), _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v1), sbc2), eps));
    const __m256 out = a.p ? _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(a.p + i), decay), _mm256_mul_ps(d, lr)) : d;
    _mm256_storeu_ps(a.m_out + i, m1);
    _mm256_storeu_ps(a.v_out + i, v1);
    _mm256_storeu_ps(a.out + i, out);
  }
  adam_portable(a, i, i1);
}
#endif

}  // namespace

void softmax_rows(Isa isa, const SoftmaxArgs& a, int64_t r0, int64_t r1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return softmax_avx2(a, r0, r1);
#endif
  (void)isa;
  softmax_portable(a, r0, r1);
}

void softmax_grad_rows(Isa isa, const float* y, const float* dy, float* dx, int64_t cols, int64_t r0, int64_t r1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return softmax_grad_avx2(y, dy, dx, cols, r0, r1);
#endif
  (void)isa;
  softmax_grad_portable(y, dy, dx, cols, r0, r1);
}

void adam_range(Isa isa, const AdamArgs& a, int64_t i0, int64_t i1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return adam_avx2(a, i0, i1);
#endif
  (void)isa;
  adam_portable(a, i0, i1);
}

void swiglu_range(Isa isa, const float* g, const float* u, float* h, int64_t i0, int64_t i1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return swiglu_avx2(g, u, h, i0, i1);
#endif
  (void)isa;
  swiglu_portable(g, u, h, i0, i1);
}

void swiglu_grad_range(Isa isa, const float* g, const float* u, const float* dh, float* dg, float* du, int64_t i0, int64_t i1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return swiglu_grad_avx2(g, u, dh, dg, du, i0, i1);
#endif
  (void)isa;
  swiglu_grad_portable(g, u, dh, dg, du, i0, i1);
}

void gelu_new_range(Isa isa, const float* x, float* y, float* s, float c1, float c2, int64_t i0, int64_t i1) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return gelu_new_avx2(x, y, s, c1, c2, i0, i1);
#endif
  (void)isa;
  gelu_new_portable(x, y, s, c1, c2, i0, i1);
}

namespace {

// The Gram's loops, written once: inlined into a portable and an AVX2 + FMA copy (the compiler vectorises
// the double sums four wide there).
inline __attribute__((always_inline)) void gram_body(const float* x, const float* y, int64_t len, int64_t r, bool by_rows, double* out) {
  for (int64_t i = 0; i < r * r; i++) out[i] = 0;
  if (by_rows) {
    for (int64_t k = 0; k < len; k++) {
      const float* xk = x + k * r;
      const float* yk = y + k * r;
      for (int64_t i = 0; i < r; i++) {
        const double xi = xk[i];
        double* o = out + i * r;
        for (int64_t j = 0; j < r; j++) o[j] += xi * double(yk[j]);
      }
    }
    return;
  }
  for (int64_t i = 0; i < r; i++) {
    const float* xi = x + i * len;
    for (int64_t j = 0; j < r; j++) {
      const float* yj = y + j * len;
      double acc[4] = {0, 0, 0, 0};  // four chains, so the compiler may keep them in one vector
      int64_t k = 0;
      for (; k + 4 <= len; k += 4)
        for (int q = 0; q < 4; q++) acc[q] += double(xi[k + q]) * double(yj[k + q]);
      for (; k < len; k++) acc[0] += double(xi[k]) * double(yj[k]);
      out[i * r + j] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  }
}

void gram_portable(const float* x, const float* y, int64_t len, int64_t r, bool by_rows, double* out) { gram_body(x, y, len, r, by_rows, out); }

#ifdef LORAPRO_X86
__attribute__((target("avx2,fma"))) void gram_avx2(const float* x, const float* y, int64_t len, int64_t r, bool by_rows, double* out) {
  gram_body(x, y, len, r, by_rows, out);
}
#endif

}  // namespace

void gram(Isa isa, const float* x, const float* y, int64_t len, int64_t r, bool by_rows, double* out) {
#ifdef LORAPRO_X86
  if (isa != Isa::portable) return gram_avx2(x, y, len, r, by_rows, out);
#endif
  (void)isa;
  gram_portable(x, y, len, r, by_rows, out);
}

}  // namespace lorapro

// Reading frozen weights into the GEMM's B strips. Mode 0 (forward, y = x·Wᵀ): op(B)(p, j) = W[j, p],
// a strip is NR rows of W, each decoded kc values at a time and written down the strip's column.
// Mode 1 (input gradient, dx = dy·W): op(B)(p, j) = W[p, j], each depth p one decoded row segment
// spread across the strips. Decoding is scalar: each decoded value then feeds n multiply-adds.
#include "frozen.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define LORAPRO_X86 1
#include <immintrin.h>
#endif

namespace lorapro {

namespace {

// QLoRA's NormalFloat4 levels, bitsandbytes' float32 constants (src/quant/nf4.ts NF4_LEVELS).
constexpr float NF4_LEVELS[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
    -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
constexpr int64_t NF4_BLOCK = 64;

inline float from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);  // a checkpoint tensor's bytes need not be 2-aligned
  return v;
}

// IEEE binary16 → float32, exact (subnormals, infinities and NaN included).
float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return from_bits(sign | 0x7f800000u | (man << 13));
  if (exp != 0) return from_bits(sign | ((exp + 112) << 23) | (man << 13));
  if (man == 0) return from_bits(sign);
  const float mag = float(man) * (1.0f / 16777216.0f);  // man · 2^-24
  return sign ? -mag : mag;
}

#ifdef LORAPRO_X86
// 16 values a step; exact conversions, so the same numbers as the scalar loops.
__attribute__((target("avx512f"))) int64_t bf16_avx512(const uint8_t* src, int64_t count, float* out) {
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)));
  }
  return i;
}

__attribute__((target("avx512f"))) int64_t int8_avx512(const int8_t* q, float scale, int64_t count, float* out) {
  int64_t i = 0;
  const __m512 s = _mm512_set1_ps(scale);
  for (; i + 16 <= count; i += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), s));
  }
  return i;
}

// NF4 values [e, e + 16·k) with e a multiple of 16 (so each 16 lie in one block of 64): 8 bytes
// give 16 codes, first value in the high nibble; the codes index the 16 levels in a register.
__attribute__((target("avx512f"))) int64_t nf4_avx512(const uint8_t* codes, const float* absmax, int64_t e, int64_t count, float* out) {
  const __m512 levels = _mm512_loadu_ps(NF4_LEVELS);
  const __m512i shifts = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);  // element 0 (high nibble) shifts by 4
  const __m512i low4 = _mm512_set1_epi32(15);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + ((e + i) >> 1)));
    const __m512i both = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes));  // b0 b0 b1 b1 … b7 b7
    const __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(both, shifts), low4);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_permutexvar_ps(idx, levels), _mm512_set1_ps(absmax[(e + i) / NF4_BLOCK])));
  }
  return i;
}
#endif

inline bool wide() {
#ifdef LORAPRO_X86
  return current_isa() == Isa::avx512;
#else
  return false;
#endif
}

thread_local std::vector<float> row_scratch;

float* scratch_row(int64_t count) {
  if (row_scratch.size() < size_t(count)) row_scratch.resize(size_t(count));
  return row_scratch.data();
}

// Mode 0: op(B)(p, j) = W[j0 + j, p0 + p].
void pack_rows(const void* ctx, float* dst, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr) {
  const Frozen& w = *static_cast<const Frozen*>(ctx);
  float* tmp = scratch_row(kc);
  for (int64_t s = 0; s < nc; s += nr) {
    const int lines = int(std::min<int64_t>(nr, nc - s));
    float* strip = dst + s * kc;
    for (int x = 0; x < lines; x++) {
      frozen_decode(w, j0 + s + x, p0, kc, tmp);
      for (int64_t p = 0; p < kc; p++) strip[p * nr + x] = tmp[p];
    }
    for (int x = lines; x < nr; x++)
      for (int64_t p = 0; p < kc; p++) strip[p * nr + x] = 0.f;
  }
}

// Mode 1: op(B)(p, j) = W[p0 + p, j0 + j].
void pack_cols(const void* ctx, float* dst, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr) {
  const Frozen& w = *static_cast<const Frozen*>(ctx);
  float* tmp = scratch_row(nc);
  const int64_t strips = (nc + nr - 1) / nr;
  for (int64_t p = 0; p < kc; p++) {
    frozen_decode(w, p0 + p, j0, nc, tmp);
    for (int64_t s = 0; s < strips; s++) {
      float* out = dst + s * nr * kc + p * nr;
      const int64_t lines = std::min<int64_t>(nr, nc - s * nr);
      std::memcpy(out, tmp + s * nr, sizeof(float) * size_t(lines));
      for (int64_t x = lines; x < nr; x++) out[x] = 0.f;
    }
  }
}

}  // namespace

int64_t frozen_data_bytes(Format f, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  switch (f) {
    case Format::f32: return 4 * n;
    case Format::bf16:
    case Format::f16: return 2 * n;
    case Format::int8: return n;
    case Format::nf4: return (n + 1) / 2;
  }
  return 0;
}

int64_t frozen_scale_count(Format f, int64_t rows, int64_t cols) {
  if (f == Format::int8) return rows;
  if (f == Format::nf4) return (rows * cols + NF4_BLOCK - 1) / NF4_BLOCK;
  return 0;
}

void frozen_decode(const Frozen& w, int64_t row, int64_t col0, int64_t count, float* out) {
  const int64_t e0 = row * w.cols + col0;
  switch (w.format) {
    case Format::f32:
      std::memcpy(out, w.data + 4 * e0, sizeof(float) * size_t(count));
      return;
    case Format::bf16: {
      int64_t i = 0;
#ifdef LORAPRO_X86
      if (wide()) i = bf16_avx512(w.data + 2 * e0, count, out);
#endif
      for (; i < count; i++) out[i] = from_bits(uint32_t(load_u16(w.data + 2 * (e0 + i))) << 16);
      return;
    }
    case Format::f16:
      for (int64_t i = 0; i < count; i++) out[i] = f16_to_f32(load_u16(w.data + 2 * (e0 + i)));
      return;
    case Format::int8: {
      const float scale = w.scales[row];
      const int8_t* q = reinterpret_cast<const int8_t*>(w.data) + e0;
      int64_t i = 0;
#ifdef LORAPRO_X86
      if (wide()) i = int8_avx512(q, scale, count, out);
#endif
      for (; i < count; i++) out[i] = float(q[i]) * scale;
      return;
    }
    case Format::nf4: {
      int64_t i = 0;
#ifdef LORAPRO_X86
      const int64_t head = std::min<int64_t>(count, (16 - e0 % 16) % 16);  // scalar up to a multiple of 16
      if (wide() && count - head >= 16) {
        for (; i < head; i++) out[i] = NF4_LEVELS[(e0 + i) & 1 ? w.data[(e0 + i) >> 1] & 15 : w.data[(e0 + i) >> 1] >> 4] * w.scales[(e0 + i) / NF4_BLOCK];
        i += nf4_avx512(w.data, w.scales, e0 + i, count - i, out + i);
      }
#endif
      for (; i < count; i++) {
        const int64_t e = e0 + i;
        const uint8_t byte = w.data[e >> 1];
        const int code = (e & 1) == 0 ? byte >> 4 : byte & 15;  // first value in the high nibble
        out[i] = NF4_LEVELS[code] * w.scales[e / NF4_BLOCK];
      }
      return;
    }
  }
}

GemmArgs frozen_gemm_args(const Frozen* w, int mode, const float* a, float* c, int64_t n) {
  GemmArgs g{};
  const int64_t k = mode == 0 ? w->cols : w->rows, width = mode == 0 ? w->rows : w->cols;
  g.a = a, g.b = nullptr, g.c = c;
  g.m = n, g.n = width, g.k = k;
  g.a_rs = k, g.a_cs = 1, g.b_rs = 0, g.b_cs = 0, g.c_rs = width;
  g.accumulate = false;
  g.pack_b = mode == 0 ? pack_rows : pack_cols;
  g.pack_ctx = w;
  return g;
}

}  // namespace lorapro

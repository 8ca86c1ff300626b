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

// bitsandbytes' signed 8-bit dynamic map (`create_dynamic_map(signed=True)`), the 256 float32 values of
// src/quant/dynamic-map.ts DYNAMIC_MAP printed to round-trip; src/engine/frozen.test.ts holds the two
// decodes equal bit for bit. NF4-DQ stores each block's absmax as an index into it.
constexpr float DYNAMIC_MAP[256] = {
    -0.99296874f, -0.9789063f, -0.96484375f, -0.9507812f, -0.93671876f, -0.92265624f, -0.9085938f, -0.89453125f,
    -0.8804687f, -0.86640626f, -0.85234374f, -0.8382813f, -0.82421875f, -0.8101562f, -0.79609376f, -0.78203124f,
    -0.7679688f, -0.75390625f, -0.7398438f, -0.72578126f, -0.71171874f, -0.6976563f, -0.68359375f, -0.6695313f,
    -0.65546876f, -0.64140624f, -0.6273438f, -0.61328125f, -0.5992188f, -0.58515626f, -0.57109374f, -0.5570313f,
    -0.54296875f, -0.5289062f, -0.51484376f, -0.50078124f, -0.4867187f, -0.47265625f, -0.45859373f, -0.44453123f,
    -0.43046874f, -0.4164062f, -0.40234375f, -0.38828123f, -0.37421876f, -0.36015624f, -0.3460937f, -0.33203125f,
    -0.31796873f, -0.30390626f, -0.28984374f, -0.27578124f, -0.26171875f, -0.24765624f, -0.23359375f, -0.21953125f,
    -0.20546874f, -0.19140625f, -0.17734374f, -0.16328125f, -0.14921875f, -0.13515624f, -0.12109375f, -0.107031256f,
    -0.09859375f, -0.09578126f, -0.092968754f, -0.09015625f, -0.08734375f, -0.08453125f, -0.08171876f, -0.07890625f,
    -0.076093756f, -0.07328125f, -0.070468746f, -0.067656256f, -0.06484375f, -0.06203125f, -0.059218753f, -0.05640625f,
    -0.053593755f, -0.05078125f, -0.04796875f, -0.045156248f, -0.042343747f, -0.03953125f, -0.036718752f, -0.033906247f,
    -0.03109375f, -0.028281247f, -0.02546875f, -0.02265625f, -0.01984375f, -0.01703125f, -0.01421875f, -0.01140625f,
    -0.00971875f, -0.009156249f, -0.00859375f, -0.00803125f, -0.00746875f, -0.00690625f, -0.0063437503f, -0.00578125f,
    -0.0052187503f, -0.0046562497f, -0.00409375f, -0.0035312497f, -0.00296875f, -0.00240625f, -0.00184375f, -0.0012812499f,
    -0.0009437501f, -0.00083125f, -0.00071875006f, -0.0006062501f, -0.00049375f, -0.00038125f, -0.00026875004f, -0.00015625001f,
    -0.00008875f, -0.00006625f, -0.00004375f, -0.000021249998f, -0.00000775f, -0.0000032500002f, -5.5000004e-7f, 0.0f,
    5.5000004e-7f, 0.0000032500002f, 0.00000775f, 0.000021249998f, 0.00004375f, 0.00006625f, 0.00008875f, 0.00015625001f,
    0.00026875004f, 0.00038125f, 0.00049375f, 0.0006062501f, 0.00071875006f, 0.00083125f, 0.0009437501f, 0.0012812499f,
    0.00184375f, 0.00240625f, 0.00296875f, 0.0035312497f, 0.00409375f, 0.0046562497f, 0.0052187503f, 0.00578125f,
    0.0063437503f, 0.00690625f, 0.00746875f, 0.00803125f, 0.00859375f, 0.009156249f, 0.00971875f, 0.01140625f,
    0.01421875f, 0.01703125f, 0.01984375f, 0.02265625f, 0.02546875f, 0.028281247f, 0.03109375f, 0.033906247f,
    0.036718752f, 0.03953125f, 0.042343747f, 0.045156248f, 0.04796875f, 0.05078125f, 0.053593755f, 0.05640625f,
    0.059218753f, 0.06203125f, 0.06484375f, 0.067656256f, 0.070468746f, 0.07328125f, 0.076093756f, 0.07890625f,
    0.08171876f, 0.08453125f, 0.08734375f, 0.09015625f, 0.092968754f, 0.09578126f, 0.09859375f, 0.107031256f,
    0.12109375f, 0.13515624f, 0.14921875f, 0.16328125f, 0.17734374f, 0.19140625f, 0.20546874f, 0.21953125f,
    0.23359375f, 0.24765624f, 0.26171875f, 0.27578124f, 0.28984374f, 0.30390626f, 0.31796873f, 0.33203125f,
    0.3460937f, 0.36015624f, 0.37421876f, 0.38828123f, 0.40234375f, 0.4164062f, 0.43046874f, 0.44453123f,
    0.45859373f, 0.47265625f, 0.4867187f, 0.50078124f, 0.51484376f, 0.5289062f, 0.54296875f, 0.5570313f,
    0.57109374f, 0.58515626f, 0.5992188f, 0.61328125f, 0.6273438f, 0.64140624f, 0.65546876f, 0.6695313f,
    0.68359375f, 0.6976563f, 0.71171874f, 0.72578126f, 0.7398438f, 0.75390625f, 0.7679688f, 0.78203124f,
    0.79609376f, 0.8101562f, 0.82421875f, 0.8382813f, 0.85234374f, 0.86640626f, 0.8804687f, 0.89453125f,
    0.9085938f, 0.92265624f, 0.93671876f, 0.9507812f, 0.96484375f, 0.9789063f, 0.99296874f, 1.0f,
};
constexpr int64_t DYNAMIC_BLOCK = 256;  // absmax values per absmax2

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
// give 16 codes, first value in the high nibble; the codes index the 16 levels in a register. The
// scale of block b is absmax[b − b0].
__attribute__((target("avx512f"))) int64_t nf4_avx512(const uint8_t* codes, const float* absmax, int64_t b0, int64_t e, int64_t count, float* out) {
  const __m512 levels = _mm512_loadu_ps(NF4_LEVELS);
  const __m512i shifts = _mm512_set_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);  // element 0 (high nibble) shifts by 4
  const __m512i low4 = _mm512_set1_epi32(15);
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + ((e + i) >> 1)));
    const __m512i both = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(bytes, bytes));  // b0 b0 b1 b1 … b7 b7
    const __m512i idx = _mm512_and_si512(_mm512_srlv_epi32(both, shifts), low4);
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_permutexvar_ps(idx, levels), _mm512_set1_ps(absmax[(e + i) / NF4_BLOCK - b0])));
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

inline float nf4_value(const uint8_t* codes, const float* absmax, int64_t b0, int64_t e) {
  const uint8_t byte = codes[e >> 1];
  const int code = (e & 1) == 0 ? byte >> 4 : byte & 15;  // first value in the high nibble
  return NF4_LEVELS[code] * absmax[e / NF4_BLOCK - b0];
}

// NF4 values [e0, e0 + count), the scale of block b at absmax[b − b0].
void nf4_decode(const uint8_t* codes, const float* absmax, int64_t b0, int64_t e0, int64_t count, float* out) {
  int64_t i = 0;
#ifdef LORAPRO_X86
  const int64_t head = std::min<int64_t>(count, (16 - e0 % 16) % 16);  // scalar up to a multiple of 16
  if (wide() && count - head >= 16) {
    for (; i < head; i++) out[i] = nf4_value(codes, absmax, b0, e0 + i);
    i += nf4_avx512(codes, absmax, b0, e0 + i, count - i, out + i);
  }
#endif
  for (; i < count; i++) out[i] = nf4_value(codes, absmax, b0, e0 + i);
}

thread_local std::vector<float> block_scratch;

// NF4-DQ's scales of blocks [b0, b1), as `dequantize_4bit` recovers them from a nested state and
// src/quant/nf4-dq.ts computes them: code[q_b]·absmax2[b / 256] rounded to float32, plus the offset,
// rounded again (no FMA: contraction is off for this function, as TypeScript rounds twice). `data`
// holds the packed codes, then one absmax code per block; `scales` the absmax2 values, then the offset.
__attribute__((optimize("fp-contract=off"))) const float* nf4dq_scales(const Frozen& w, int64_t b0, int64_t b1) {
  const int64_t n = w.rows * w.cols, blocks = (n + NF4_BLOCK - 1) / NF4_BLOCK;
  const uint8_t* q = w.data + (n + 1) / 2;
  const float offset = w.scales[(blocks + DYNAMIC_BLOCK - 1) / DYNAMIC_BLOCK];
  if (block_scratch.size() < size_t(b1 - b0)) block_scratch.resize(size_t(b1 - b0));
  for (int64_t b = b0; b < b1; b++) {
    const float centred = DYNAMIC_MAP[q[b]] * w.scales[b / DYNAMIC_BLOCK];
    block_scratch[size_t(b - b0)] = centred + offset;
  }
  return block_scratch.data();
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
    case Format::nf4_dq: return (n + 1) / 2 + (n + NF4_BLOCK - 1) / NF4_BLOCK;  // codes, then one absmax code per block
  }
  return 0;
}

int64_t frozen_scale_count(Format f, int64_t rows, int64_t cols) {
  if (f == Format::int8) return rows;
  if (f == Format::nf4) return (rows * cols + NF4_BLOCK - 1) / NF4_BLOCK;
  if (f == Format::nf4_dq) return ((rows * cols + NF4_BLOCK - 1) / NF4_BLOCK + DYNAMIC_BLOCK - 1) / DYNAMIC_BLOCK + 1;  // absmax2, then the offset
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
    case Format::nf4:
      nf4_decode(w.data, w.scales, 0, e0, count, out);
      return;
    case Format::nf4_dq: {
      if (count <= 0) return;
      const int64_t b0 = e0 / NF4_BLOCK, b1 = (e0 + count - 1) / NF4_BLOCK + 1;  // one scale per block touched
      nf4_decode(w.data, nf4dq_scales(w, b0, b1), b0, e0, count, out);
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

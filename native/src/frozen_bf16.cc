// The bf16 path of frozen_bf16.h, blocked as gemm.cc's float32 GEMM is (BLIS's loop order: NC columns,
// then KC deep, then MC rows; B packed once per block, A per row block), but on bf16 pairs along k:
// vdpbf16ps reads each 32-bit lane as a pair of bf16 values, multiplies its two operands' pairs and adds
// both products to that lane's float32 sum, so a packed strip holds, for each pair q, the 32-bit word
// (v[2q], v[2q+1]) of every line (low half first, as the bytes of a bf16 row already are). An odd k pads
// its last pair with zero.
//   A (x or dy, float32 on the heap): rounded to bf16 (round to nearest even) while packed into MR-tall strips.
//   B, mode 0 (op(B)(p, j) = W[j, p]): a pair is two neighbours in W's row j, copied as one 32-bit word.
//   B, mode 1 (op(B)(p, j) = W[p, j]): a pair is W[2q, j] and W[2q + 1, j], two rows interleaved.
#include "frozen_bf16.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gemm.h"

#if defined(__x86_64__) || defined(_M_X64)
#define LORAPRO_X86 1
#include <immintrin.h>

#include "tile_avx512.h"
#endif

namespace lorapro {

namespace {

// Measured on Zen 4 at Llama-3.2-1B's MLP shape (src/bench/frozen-matmul.ts): 256 pairs deep and 512
// columns wide took ~20 % (mode 0) and ~40 % (mode 1, k = 8192) less time than 128 x 2048 (one run
// each on a loaded 2-core machine), as C is read and written once per k block: 128 rows x 512 columns
// of it (256 KB) then stay in L2 between blocks.
constexpr int64_t KCP = 256;  // pairs per packed block (512 values of k): a 32-column strip of B is 32 KB
constexpr int64_t MC = BF16_MR * 24;  // rows of packed A per block (192 KB)
constexpr int64_t NC = 512;  // columns of packed B per block (KCP x NC words = 512 KB)

bool env_wants_bf16() {
  const char* v = std::getenv("LORAPRO_MATMUL");
  return v != nullptr && std::strcmp(v, "bf16") == 0;
}

bool g_bf16 = env_wants_bf16();

inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // a checkpoint tensor's bytes need not be 4-aligned
  return v;
}

inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Packing buffers, one pair per thread, grown on demand and kept (no allocation per call).
struct Scratch {
  std::vector<uint32_t> a, b;
};
thread_local Scratch scratch;

// Mode 0: W[j0 + j, 2(q0 + q) : +2] for j < nc, q < kcp into NR-wide strips, zero-padded.
void pack_b_rows(const Frozen& w, uint32_t* dst, int64_t q0, int64_t kcp, int64_t j0, int64_t nc) {
  const int64_t k = w.cols;
  const int64_t whole = std::min(kcp, k / 2 - q0);  // pairs with both halves inside the row
  for (int64_t s = 0; s < nc; s += BF16_NR) {
    const int lines = int(std::min<int64_t>(BF16_NR, nc - s));
    uint32_t* strip = dst + s * kcp;
    for (int x = 0; x < lines; x++) {
      const uint8_t* row = w.data + 2 * ((j0 + s + x) * k + 2 * q0);
      int64_t q = 0;
      for (; q < whole; q++) strip[q * BF16_NR + x] = load_u32(row + 4 * q);
      if (q < kcp) strip[q * BF16_NR + x] = load_u16(row + 4 * q);  // odd k: (W[j, k - 1], 0)
    }
    for (int x = lines; x < BF16_NR; x++)
      for (int64_t q = 0; q < kcp; q++) strip[q * BF16_NR + x] = 0;
  }
}

#ifdef LORAPRO_X86
// Mode 1: rows 2(q0 + q) and 2(q0 + q) + 1 of W, columns [j0, j0 + nc), interleaved into NR-wide strips.
__attribute__((target("avx512f"))) void pack_b_cols(const Frozen& w, uint32_t* dst, int64_t q0, int64_t kcp, int64_t j0, int64_t nc) {
  const int64_t cols = w.cols;
  for (int64_t q = 0; q < kcp; q++) {
    const int64_t p = 2 * (q0 + q);
    const uint8_t* r0 = w.data + 2 * (p * cols + j0);
    const uint8_t* r1 = p + 1 < w.rows ? r0 + 2 * cols : nullptr;  // odd k: the pair's second row is zero
    for (int64_t s = 0; s < nc; s += BF16_NR) {
      uint32_t* out = dst + s * kcp + q * BF16_NR;
      const int64_t lines = std::min<int64_t>(BF16_NR, nc - s);
      int64_t x = 0;
      for (; x + 16 <= lines; x += 16) {
        const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + 2 * (s + x))));
        const __m512i hi = r1 ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + 2 * (s + x)))) : _mm512_setzero_si512();
        _mm512_storeu_si512(out + x, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
      }
      for (; x < lines; x++) out[x] = uint32_t(load_u16(r0 + 2 * (s + x))) | (r1 ? uint32_t(load_u16(r1 + 2 * (s + x))) << 16 : 0u);
      for (; x < BF16_NR; x++) out[x] = 0;
    }
  }
}

// a[i0 + i, 2(q0 + q) : +2] rounded to bf16 (vcvtne2ps2bf16: round to nearest even) into MR-tall strips,
// zero-padded past row i0 + mc and past k.
__attribute__((target("avx512f,avx512bf16"))) void pack_a(const float* a, int64_t k, uint32_t* dst, int64_t i0, int64_t mc, int64_t q0, int64_t kcp) {
  const int64_t mc_pad = (mc + BF16_MR - 1) / BF16_MR * BF16_MR;
  alignas(64) uint32_t pairs[16];
  for (int64_t i = 0; i < mc_pad; i++) {
    uint32_t* strip = dst + (i / BF16_MR) * BF16_MR * kcp + i % BF16_MR;
    if (i >= mc) {
      for (int64_t q = 0; q < kcp; q++) strip[q * BF16_MR] = 0;
      continue;
    }
    const float* row = a + (i0 + i) * k + 2 * q0;
    const int64_t values = std::min(2 * kcp, k - 2 * q0);
    for (int64_t q = 0; q < kcp; q += 16) {
      const int64_t v0 = 2 * q;  // 32 values, 16 pairs a step; masked loads read zeros past k
      const int64_t left = std::max<int64_t>(0, values - v0);
      const __mmask16 m0 = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
      const __mmask16 m1 = left >= 32 ? __mmask16(0xFFFF) : left <= 16 ? __mmask16(0) : __mmask16((1u << (left - 16)) - 1);
      const __m512 lo = _mm512_maskz_loadu_ps(m0, row + v0);
      const __m512 hi = _mm512_maskz_loadu_ps(m1, row + v0 + 16);
      _mm512_store_si512(pairs, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));  // lanes 0-15 from lo
      const int64_t count = std::min<int64_t>(16, kcp - q);
      for (int64_t t = 0; t < count; t++) strip[(q + t) * BF16_MR] = pairs[t];
    }
  }
}

// c[0:MR, 0:NR] (+)= sum over q of A's pair q (ap[q * MR + i]) · B's pair q (bp[q * NR + j]).
__attribute__((target("avx512f,avx512bf16"))) void micro_bf16(int64_t kcp, const uint32_t* ap, const uint32_t* bp, float* c, int64_t c_rs,
                                                               bool accumulate, int rows, int cols) {
  constexpr int MR = BF16_MR, NR = BF16_NR;
  __m512 acc0[MR], acc1[MR];
  for (int i = 0; i < MR; i++) acc0[i] = _mm512_setzero_ps(), acc1[i] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kcp; q++) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(bp + q * NR));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(bp + q * NR + 16));
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512bh x = reinterpret_cast<__m512bh>(_mm512_set1_epi32(int(ap[q * MR + i])));
      acc0[i] = _mm512_dpbf16_ps(acc0[i], x, b0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], x, b1);
    }
  }
  store_tile_avx512(acc0, acc1, c, c_rs, accumulate, rows, cols);
}
#endif

}  // namespace

bool bf16_dot_supported() {
#ifdef LORAPRO_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

bool frozen_bf16_requested() { return g_bf16; }
void set_frozen_bf16(bool on) { g_bf16 = on; }

bool frozen_bf16_active(const Frozen& w) {
  static const bool supported = bf16_dot_supported();
  return g_bf16 && supported && w.format == Format::bf16 && current_isa() == Isa::avx512;
}

void frozen_bf16_tile(const Frozen& w, int mode, const float* a, float* c, int64_t n, int64_t row0, int64_t row1, int64_t col0, int64_t col1) {
#ifdef LORAPRO_X86
  const int64_t k = mode == 0 ? w.cols : w.rows, width = mode == 0 ? w.rows : w.cols;
  const int64_t pairs = (k + 1) / 2;
  const int64_t m = row1 - row0, cols = col1 - col0;
  if (m <= 0 || cols <= 0 || n <= 0) return;
  const int64_t kcp_max = std::min(KCP, pairs);
  const int64_t nc_max = std::min(NC, (cols + BF16_NR - 1) / BF16_NR * BF16_NR);
  const int64_t mc_max = std::min(MC, (m + BF16_MR - 1) / BF16_MR * BF16_MR);
  Scratch& s = scratch;
  if (s.a.size() < size_t(mc_max * kcp_max)) s.a.resize(size_t(mc_max * kcp_max));
  if (s.b.size() < size_t(nc_max * kcp_max)) s.b.resize(size_t(nc_max * kcp_max));
  for (int64_t jc = col0; jc < col1; jc += NC) {
    const int64_t nc = std::min(NC, col1 - jc);
    for (int64_t q0 = 0; q0 < pairs; q0 += KCP) {
      const int64_t kcp = std::min(KCP, pairs - q0);
      if (mode == 0) pack_b_rows(w, s.b.data(), q0, kcp, jc, nc);
      else pack_b_cols(w, s.b.data(), q0, kcp, jc, nc);
      for (int64_t ic = row0; ic < row1; ic += MC) {
        const int64_t mc = std::min(MC, row1 - ic);
        pack_a(a, k, s.a.data(), ic, mc, q0, kcp);
        for (int64_t jr = 0; jr < nc; jr += BF16_NR) {
          const int ncols = int(std::min<int64_t>(BF16_NR, nc - jr));
          const uint32_t* bp = s.b.data() + jr * kcp;
          for (int64_t ir = 0; ir < mc; ir += BF16_MR) {
            const int nrows = int(std::min<int64_t>(BF16_MR, mc - ir));
            micro_bf16(kcp, s.a.data() + ir * kcp, bp, c + (ic + ir) * width + jc + jr, width, q0 > 0, nrows, ncols);
          }
        }
      }
    }
  }
#else
  (void)w, (void)mode, (void)a, (void)c, (void)n, (void)row0, (void)row1, (void)col0, (void)col1;  // frozen_bf16_active is never true here
#endif
}

}  // namespace lorapro

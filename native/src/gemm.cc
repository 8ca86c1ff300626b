// Blocked GEMM in the manner of Goto and van de Geijn (BLIS's loop order): C is walked in NC-column
// and KC-deep blocks; each block of op(B) is packed into NR-wide, zero-padded strips. op(A) is read where
// it lies when it is row-major or a transposed store with rows under 4 KB apart (packing it cost as much
// as the product on a narrow B); otherwise, and for a last partial tile of rows, it is packed into
// MR-tall strips. The microkernel keeps an MR x NR tile of C in registers.
//
// Microkernels are written per instruction set with GCC's target attribute and chosen at run time, so
// the binary is built for baseline x86-64 (or any other architecture: then only the portable kernel).
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define LORAPRO_X86 1
#include <immintrin.h>

#include "tile_avx512.h"
#endif

namespace lorapro {

namespace {

constexpr int64_t KC = 256;  // depth of a packed block: an MR x KC strip of A plus a KC x NR strip of B stay in L1
constexpr int64_t MC_TILES = 24;  // MC = MR * MC_TILES rows of packed A (~200 KB, L2)
constexpr int64_t NC = 2048;  // columns of packed B per block (KC x NC floats = 2 MB)

// ---- microkernels: c[0:MR, 0:NR] (+)= sum_p A(i, p) * bp[p*NR + j], A(i, p) as a_at below -----------

template <int MR, int NR>
void store_tile(const float* acc, float* c, int64_t c_rs, bool accumulate, int rows, int cols) {
  for (int i = 0; i < rows; i++) {
    float* row = c + i * c_rs;
    const float* src = acc + i * NR;
    if (accumulate)
      for (int j = 0; j < cols; j++) row[j] += src[j];
    else
      for (int j = 0; j < cols; j++) row[j] = src[j];
  }
}

constexpr int PORTABLE_MR = 4;
constexpr int PORTABLE_NR = 16;

// A(i, p) of the tile at ap[p * sp + i * si]: UNIT_I (si = 1) for packed strips and transposed stores
// (sp = MR or the stored row length), else a row-major A read in place (sp = 1, si = its row length).
template <bool UNIT_I>
inline const float& a_at(const float* ap, int64_t sp, int64_t si, int64_t p, int i) {
  return UNIT_I ? ap[p * sp + i] : ap[p + i * si];
}

template <bool UNIT_I>
void micro_portable(int64_t kc, const float* ap, int64_t sp, int64_t si, const float* bp, float* c, int64_t c_rs, bool accumulate, int rows, int cols) {
  constexpr int MR = PORTABLE_MR, NR = PORTABLE_NR;
  float acc[MR * NR] = {0};
  for (int64_t p = 0; p < kc; p++) {
    const float* b = bp + p * NR;
    for (int i = 0; i < MR; i++) {
      const float x = a_at<UNIT_I>(ap, sp, si, p, i);
      for (int j = 0; j < NR; j++) acc[i * NR + j] += x * b[j];
    }
  }
  store_tile<MR, NR>(acc, c, c_rs, accumulate, rows, cols);
}

#ifdef LORAPRO_X86
constexpr int AVX2_MR = 6;
constexpr int AVX2_NR = 16;

template <bool UNIT_I>
__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* ap, int64_t sp, int64_t si, const float* bp, float* c,
                                                    int64_t c_rs, bool accumulate, int rows, int cols) {
  constexpr int MR = AVX2_MR, NR = AVX2_NR;
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_loadu_ps(bp + p * NR);
    const __m256 b1 = _mm256_loadu_ps(bp + p * NR + 8);
    __m256 x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 0));
    c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 1));
    c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 2));
    c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 3));
    c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 4));
    c40 = _mm256_fmadd_ps(x, b0, c40), c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(&a_at<UNIT_I>(ap, sp, si, p, 5));
    c50 = _mm256_fmadd_ps(x, b0, c50), c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (rows == MR && cols == NR) {
    for (int i = 0; i < MR; i++) {
      float* row = c + i * c_rs;
      __m256 lo = acc[i][0], hi = acc[i][1];
      if (accumulate) lo = _mm256_add_ps(lo, _mm256_loadu_ps(row)), hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
      _mm256_storeu_ps(row, lo);
      _mm256_storeu_ps(row + 8, hi);
    }
    return;
  }
  alignas(32) float tile[MR * NR];
  for (int i = 0; i < MR; i++) _mm256_store_ps(tile + i * NR, acc[i][0]), _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
  store_tile<MR, NR>(tile, c, c_rs, accumulate, rows, cols);
}

constexpr int AVX512_MR = 8;
constexpr int AVX512_NR = 32;

template <bool UNIT_I>
__attribute__((target("avx512f"))) void micro_avx512(int64_t kc, const float* ap, int64_t sp, int64_t si, const float* bp, float* c,
                                                     int64_t c_rs, bool accumulate, int rows, int cols) {
  constexpr int MR = AVX512_MR, NR = AVX512_NR;
  __m512 acc0[MR], acc1[MR];
  for (int i = 0; i < MR; i++) acc0[i] = _mm512_setzero_ps(), acc1[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m512 b0 = _mm512_loadu_ps(bp + p * NR);
    const __m512 b1 = _mm512_loadu_ps(bp + p * NR + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
      const __m512 x = _mm512_set1_ps(a_at<UNIT_I>(ap, sp, si, p, i));
      acc0[i] = _mm512_fmadd_ps(x, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(x, b1, acc1[i]);
    }
  }
  store_tile_avx512(acc0, acc1, c, c_rs, accumulate, rows, cols);
}

// For narrow products (n <= 16: a LoRA rank, a head's width): 16 rows x one register of columns, so a
// rank-8 product wastes half a tile instead of three quarters of the 32-wide one.
constexpr int AVX512_NARROW_MR = 16;
constexpr int AVX512_NARROW_NR = 16;

template <bool UNIT_I>
__attribute__((target("avx512f"))) void micro_avx512_narrow(int64_t kc, const float* ap, int64_t sp, int64_t si, const float* bp, float* c,
                                                            int64_t c_rs, bool accumulate, int rows, int cols) {
  constexpr int MR = AVX512_NARROW_MR, NR = AVX512_NARROW_NR;
  __m512 acc[MR];
  for (int i = 0; i < MR; i++) acc[i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    const __m512 b = _mm512_loadu_ps(bp + p * NR);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a_at<UNIT_I>(ap, sp, si, p, i)), b, acc[i]);
  }
  const __mmask16 mask = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  for (int i = 0; i < rows; i++) {
    float* row = c + i * c_rs;
    __m512 v = acc[i];
    if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, row));
    _mm512_mask_storeu_ps(row, mask, v);
  }
}
#endif

using Micro = void (*)(int64_t, const float*, int64_t, int64_t, const float*, float*, int64_t, bool, int, int);

struct Kernel {
  Micro cols;  // A's tile column contiguous: packed strips, or a transposed store read in place
  Micro rows;  // A row-major, read in place
  int mr, nr;
};

// The microkernel for a product n columns wide.
Kernel kernel_for(Isa isa, int64_t n) {
#ifdef LORAPRO_X86
  if (isa == Isa::avx512 && n <= AVX512_NARROW_NR) return {micro_avx512_narrow<true>, micro_avx512_narrow<false>, AVX512_NARROW_MR, AVX512_NARROW_NR};
  if (isa == Isa::avx512) return {micro_avx512<true>, micro_avx512<false>, AVX512_MR, AVX512_NR};
  if (isa == Isa::avx2) return {micro_avx2<true>, micro_avx2<false>, AVX2_MR, AVX2_NR};
#endif
  (void)isa, (void)n;
  return {micro_portable<true>, micro_portable<false>, PORTABLE_MR, PORTABLE_NR};
}

// ---- packing ----------------------------------------------------------------------------------------

// `count` lines of a matrix, `depth` deep, into strips `width` lines wide, zero-padded: line x, depth p
// at base[x * sx + p * sp], lands in strip x / width at p * width + x % width. Rows of op(A) into MR-tall
// strips and columns of op(B) into NR-wide strips are both this, with the strides swapped.
void pack_strips(float* dst, const float* base, int64_t count, int64_t depth, int64_t sx, int64_t sp, int width) {
  for (int64_t s = 0; s < count; s += width) {
    const int lines = int(std::min<int64_t>(width, count - s));
    float* strip = dst + s * depth;
    const float* first = base + s * sx;
    if (sx == 1) {  // a strip's slice at one depth is contiguous
      for (int64_t p = 0; p < depth; p++) {
        const float* src = first + p * sp;
        float* out = strip + p * width;
        std::memcpy(out, src, sizeof(float) * lines);
        for (int x = lines; x < width; x++) out[x] = 0.f;
      }
    } else {
      for (int x = 0; x < lines; x++) {
        const float* line = first + x * sx;
        if (sp == 1)
          for (int64_t p = 0; p < depth; p++) strip[p * width + x] = line[p];
        else
          for (int64_t p = 0; p < depth; p++) strip[p * width + x] = line[p * sp];
      }
      for (int x = lines; x < width; x++)
        for (int64_t p = 0; p < depth; p++) strip[p * width + x] = 0.f;
    }
  }
}

// op(A)[i0 : i0+mc, p0 : p0+kc] into MR-tall strips.
void pack_a(float* dst, const GemmArgs& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr) {
  pack_strips(dst, g.a + i0 * g.a_rs + p0 * g.a_cs, mc, kc, g.a_rs, g.a_cs, mr);
}

// op(B)[p0 : p0+kc, j0 : j0+nc] into NR-wide strips.
void pack_b(float* dst, const GemmArgs& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr) {
  pack_strips(dst, g.b + p0 * g.b_rs + j0 * g.b_cs, nc, kc, g.b_cs, g.b_rs, nr);
}

// Packing buffers, one pair per thread, grown on demand and kept (no allocation per call).
struct Scratch {
  std::vector<float> a, b;
};
thread_local Scratch scratch;

Isa g_isa = detect_isa();

}  // namespace

Isa detect_isa() {
  const char* forced = std::getenv("LORAPRO_ISA");
  Isa best = Isa::portable;
#ifdef LORAPRO_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::avx2;
  if (__builtin_cpu_supports("avx512f")) best = Isa::avx512;
#endif
  if (forced != nullptr) {
    Isa want = Isa::portable;
    if (std::strcmp(forced, "avx2") == 0) want = Isa::avx2;
    else if (std::strcmp(forced, "avx512") == 0) want = Isa::avx512;
    if (int(want) <= int(best)) return want;  // never one the CPU lacks
  }
  return best;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "portable";
  }
}

Isa current_isa() { return g_isa; }
void set_isa(Isa isa) { g_isa = isa; }
int tile_rows(Isa isa, int64_t n) { return kernel_for(isa, n).mr; }
int tile_cols(Isa isa, int64_t n) { return kernel_for(isa, n).nr; }

void gemm_tile(Isa isa, const GemmArgs& g, int64_t row0, int64_t row1, int64_t col0, int64_t col1) {
  const Kernel kern = kernel_for(isa, g.n);
  const int64_t mc_max = int64_t(kern.mr) * MC_TILES;
  const int64_t m = row1 - row0, n = col1 - col0;
  if (m <= 0 || n <= 0) return;
  if (g.k == 0) {
    if (!g.accumulate)
      for (int64_t i = row0; i < row1; i++) std::memset(g.c + i * g.c_rs + col0, 0, sizeof(float) * n);
    return;
  }
  // In place: a row-major A, or a transposed one whose stored rows are under 4 KB apart (at 4 KB the
  // tile's reads, one per stored row, all land in one L1 set).
  const bool direct = g.a_cs == 1 || (g.a_rs == 1 && g.a_cs * int64_t(sizeof(float)) < 4096);
  const int64_t kc_max = std::min(KC, g.k);
  const int64_t nc_max = std::min(NC, (n + kern.nr - 1) / kern.nr * kern.nr);
  const int64_t mc_cap = std::min(mc_max, (m + kern.mr - 1) / kern.mr * kern.mr);
  Scratch& s = scratch;
  if (s.a.size() < size_t(mc_cap * kc_max)) s.a.resize(mc_cap * kc_max);
  if (s.b.size() < size_t(nc_max * kc_max)) s.b.resize(nc_max * kc_max);
  for (int64_t jc = col0; jc < col1; jc += NC) {
    const int64_t nc = std::min(NC, col1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      const int64_t kc = std::min(KC, g.k - pc);
      const bool accumulate = g.accumulate || pc > 0;
      if (g.pack_b != nullptr) g.pack_b(g.pack_ctx, s.b.data(), pc, kc, jc, nc, kern.nr);
      else pack_b(s.b.data(), g, pc, kc, jc, nc, kern.nr);
      for (int64_t ic = row0; ic < row1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, row1 - ic);
        // Full row tiles read A where it lies when its layout allows; only a last, partial tile (and an
        // A whose rows or columns are far apart) is packed, zero-padded.
        const int64_t full = direct ? mc / kern.mr * kern.mr : 0;
        if (full < mc) pack_a(s.a.data(), g, ic + full, mc - full, pc, kc, kern.mr);
        for (int64_t jr = 0; jr < nc; jr += kern.nr) {
          const int cols = int(std::min<int64_t>(kern.nr, nc - jr));
          const float* bp = s.b.data() + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += kern.mr) {
            const int rows = int(std::min<int64_t>(kern.mr, mc - ir));
            float* c = g.c + (ic + ir) * g.c_rs + jc + jr;
            if (ir < full) {
              const float* a = g.a + (ic + ir) * g.a_rs + pc * g.a_cs;
              if (g.a_cs == 1) kern.rows(kc, a, 1, g.a_rs, bp, c, g.c_rs, accumulate, rows, cols);
              else kern.cols(kc, a, g.a_cs, 1, bp, c, g.c_rs, accumulate, rows, cols);
            } else {
              kern.cols(kc, s.a.data() + (ir - full) * kc, kern.mr, 1, bp, c, g.c_rs, accumulate, rows, cols);
            }
          }
        }
      }
    }
  }
}

}  // namespace lorapro

// Writing back an AVX-512 microkernel's register tile, shared by gemm.cc's float32 kernel and
// frozen_bf16.cc's bf16 one (both keep 8 rows x 32 float32 columns in two registers a row).
#pragma once
#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

namespace lorapro {

// c[0:rows, 0:cols] (+)= acc0[i] (columns 0-15) and acc1[i] (16-31) of each row i: columns past `cols`
// are masked off, rows past `rows` skipped, so no scratch tile is needed. Inlined into each kernel,
// whose target (avx512f, or a superset) it shares.
__attribute__((target("avx512f"), always_inline)) inline void store_tile_avx512(const __m512* acc0, const __m512* acc1, float* c, int64_t c_rs,
                                                                                 bool accumulate, int rows, int cols) {
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  for (int i = 0; i < rows; i++) {
    float* row = c + i * c_rs;
    __m512 lo = acc0[i], hi = acc1[i];
    if (accumulate) {
      lo = _mm512_add_ps(lo, _mm512_maskz_loadu_ps(m0, row));
      hi = _mm512_add_ps(hi, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, lo);
    _mm512_mask_storeu_ps(row + 16, m1, hi);
  }
}

}  // namespace lorapro
#endif

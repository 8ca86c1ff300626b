// C = op(A) op(B) (or C += ...) for float32 matrices addressed by element strides, so every transpose is
// only a choice of strides. One portable binary: the microkernel is picked at run time from the CPU
// (AVX-512, AVX2 + FMA, or portable C++), nothing is compiled with -march=native.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lorapro {

// One matrix product's operands. Element (i, p) of op(A) lies at a[i * a_rs + p * a_cs], element (p, j)
// of op(B) at b[p * b_rs + j * b_cs]; C is row-major with row stride c_rs.
// Packs op(B)[p0 : p0+kc, j0 : j0+nc] into nr-wide, zero-padded strips (the layout gemm.cc's
// pack_strips writes): a B that is not float32 in memory (a frozen bf16 or quantized weight) is
// converted here, strip by strip, instead of being read through b's strides.
using PackB = void (*)(const void* ctx, float* dst, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr);

struct GemmArgs {
  const float* a;
  const float* b;
  float* c;
  int64_t m, n, k;
  int64_t a_rs, a_cs, b_rs, b_cs, c_rs;
  bool accumulate;  // C += op(A) op(B) instead of C = op(A) op(B)
  PackB pack_b = nullptr;  // when set, B is packed by it (b and its strides unused)
  const void* pack_ctx = nullptr;
};

enum class Isa { portable = 0, avx2 = 1, avx512 = 2 };

// The best microkernel this CPU runs, or the one LORAPRO_ISA names (portable|avx2|avx512, for tests).
Isa detect_isa();
const char* isa_name(Isa isa);
Isa current_isa();
void set_isa(Isa isa);

// Computes rows [row0, row1) and columns [col0, col1) of one product, single-threaded, with the given
// instruction set's microkernel for g.n. Workers call it on disjoint tiles of C.
void gemm_tile(Isa isa, const GemmArgs& g, int64_t row0, int64_t row1, int64_t col0, int64_t col1);

// Row and column multiples a tile split of a product n columns wide should keep to (the register tile
// of the microkernel gemm_tile picks for it).
int tile_rows(Isa isa, int64_t n);
int tile_cols(Isa isa, int64_t n);

}  // namespace lorapro

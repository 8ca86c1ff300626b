// bf16 dot products for frozen bf16 weights (AVX512_BF16's vdpbf16ps), an opt-in alternative to the
// float32 GEMM that frozen.cc feeds: the activations are rounded to bf16 (round to nearest even) and
// every product of two bf16 values is summed in float32, as PyTorch's CPU autocast and
// torch.set_float32_matmul_precision("medium") do. Twice the float32 FMA rate; other formats, other
// CPUs and the default keep the float32 path.
#pragma once
#include <cstdint>

#include "frozen.h"

namespace lorapro {

// Register tile of the bf16 microkernel: 8 rows x 32 columns of float32 accumulators.
constexpr int BF16_MR = 8;
constexpr int BF16_NR = 32;

// Whether this CPU has AVX512_BF16 (and AVX-512F); LORAPRO_MATMUL=bf16 or set_frozen_bf16 asks for it.
bool bf16_dot_supported();
bool frozen_bf16_requested();
void set_frozen_bf16(bool on);

// Whether a product with this weight takes the bf16 path now: asked for, a bf16 weight, the AVX-512
// kernels chosen (LORAPRO_ISA / configure can pick narrower ones, which then rule it out) and the CPU able.
bool frozen_bf16_active(const Frozen& w);

// Rows [row0, row1) and columns [col0, col1) of the frozen product (frozen_gemm_args' modes) on the bf16
// path, single-threaded; workers call it on disjoint tiles, in multiples of BF16_MR rows or BF16_NR columns.
void frozen_bf16_tile(const Frozen& w, int mode, const float* a, float* c, int64_t n, int64_t row0, int64_t row1, int64_t col0, int64_t col1);

}  // namespace lorapro

// Frozen weights outside the wasm heap (src/engine/frozen.ts owns them): a row-major [rows, cols]
// weight in the checkpoint's own float type or a quantized block format (src/quant/), read by the
// GEMM through a B-packing routine that converts it to float32 strip by strip (a bf16 weight with bf16
// products asked for takes frozen_bf16.h's path instead).
#pragma once
#include <cstdint>

#include "gemm.h"

namespace lorapro {

// The numbers src/quant/formats.ts gives each format.
enum class Format { f32 = 0, bf16 = 1, f16 = 2, int8 = 3, nf4 = 4, nf4_dq = 5 };

struct Frozen {
  const uint8_t* data;  // the values (floats as stored, int8 values, or packed NF4 codes; nf4_dq: then one absmax code per block)
  const float* scales;  // int8: one per row; nf4: one absmax per block of 64; nf4_dq: one absmax2 per 256 blocks, then the offset; else null
  Format format;
  int64_t rows, cols;
};

// Bytes of `data` and floats of `scales` a [rows, cols] weight of this format needs.
int64_t frozen_data_bytes(Format f, int64_t rows, int64_t cols);
int64_t frozen_scale_count(Format f, int64_t rows, int64_t cols);

// W[row, col0 : col0 + count] as float32.
void frozen_decode(const Frozen& w, int64_t row, int64_t col0, int64_t count, float* out);

// The GEMM operands of y[n, out] = x[n, in]·Wᵀ (mode 0) or dx[n, in] = dy[n, out]·W (mode 1) with
// a (x or dy) row-major at `a` and c row-major: B is W converted by frozen_pack_b. `w` must outlive g.
GemmArgs frozen_gemm_args(const Frozen* w, int mode, const float* a, float* c, int64_t n);

}  // namespace lorapro

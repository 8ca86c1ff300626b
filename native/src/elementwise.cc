#include "elementwise.h"

#include <algorithm>

namespace lorapro {
namespace {

template <BinaryOp OP>
inline float apply(float x, float y) {
  if constexpr (OP == BinaryOp::add) return x + y;
  if constexpr (OP == BinaryOp::sub) return x - y;
  if constexpr (OP == BinaryOp::mul) return x * y;
  return x / y;
}

// The inner loops: both sides contiguous, or one side a single value. Cloned per instruction set
// (picked when the addon loads), so the baseline binary still runs 512-bit loops on AVX-512.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LORAPRO_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LORAPRO_CLONES
#endif

template <BinaryOp OP>
LORAPRO_CLONES void run_vv(const float* __restrict a, const float* __restrict b, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], b[i]);
}
template <BinaryOp OP>
LORAPRO_CLONES void run_vs(const float* __restrict a, float b, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(a[i], b);
}
template <BinaryOp OP>
LORAPRO_CLONES void run_sv(float a, const float* __restrict b, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = apply<OP>(a, b[i]);
}

// How far from index i the side keeps the same shape of access, and where it points.
inline int64_t run_length(const Side& s, int64_t i, int64_t end) {
  switch (s.mode) {
    case Operand::repeat: return std::min(end, (i / s.period + 1) * s.period) - i;
    case Operand::stretch: return std::min(end, (i / s.period + 1) * s.period) - i;
    default: return end - i;
  }
}
inline const float* at(const Side& s, int64_t i) {
  switch (s.mode) {
    case Operand::full: return s.x + i;
    case Operand::scalar: return s.x;
    case Operand::repeat: return s.x + i % s.period;
    default: return s.x + i / s.period;
  }
}
inline bool single(const Side& s) { return s.mode == Operand::scalar || s.mode == Operand::stretch; }

template <BinaryOp OP>
void range(Side a, Side b, float* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end;) {
    const int64_t len = std::min(run_length(a, i, end), run_length(b, i, end));
    const float* x = at(a, i);
    const float* y = at(b, i);
    if (single(a) && single(b)) {
      const float v = apply<OP>(*x, *y);
      std::fill(out + i, out + i + len, v);
    } else if (single(b)) {
      run_vs<OP>(x, *y, out + i, len);
    } else if (single(a)) {
      run_sv<OP>(*x, y, out + i, len);
    } else {
      run_vv<OP>(x, y, out + i, len);
    }
    i += len;
  }
}

}  // namespace

void binary_range(BinaryOp op, Side a, Side b, float* out, int64_t begin, int64_t end) {
  switch (op) {
    case BinaryOp::add: return range<BinaryOp::add>(a, b, out, begin, end);
    case BinaryOp::sub: return range<BinaryOp::sub>(a, b, out, begin, end);
    case BinaryOp::mul: return range<BinaryOp::mul>(a, b, out, begin, end);
    default: return range<BinaryOp::div>(a, b, out, begin, end);
  }
}

}  // namespace lorapro

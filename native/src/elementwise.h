// Elementwise binary ops on float32 with the broadcasts a training step uses, each side one of:
// full (its own element i), scalar, repeat (element i % period: a trailing-axes broadcast such as a
// bias) or stretch (element i / period: a [..., 1] broadcast such as softmax's max and sum).
#pragma once
#include <cstdint>

namespace lorapro {

enum class BinaryOp { add = 0, sub = 1, mul = 2, div = 3 };
enum class Operand { full = 0, scalar = 1, repeat = 2, stretch = 3 };

struct Side {
  const float* x;
  Operand mode;
  int64_t period;  // repeat: the operand's size; stretch: elements of out per element of the operand
};

// out[begin : end) = a op b, every index mapped through each side's mode.
void binary_range(BinaryOp op, Side a, Side b, float* out, int64_t begin, int64_t end);

}  // namespace lorapro

// The Node-API face of the native engine. Kernels work in place on an ArrayBuffer the caller owns (the
// wasm backend's heap): every tensor is a byte offset into it, nothing is copied or allocated per call.
//
//   info()                                   -> { isa, threads, tileRows, tileCols, matmul, bf16Dot }
//   configure(threads, isa[, matmul])        threads <= 0 keeps the count; isa '' keeps the kernel; matmul
//     'bf16' or 'f32' (frozen_bf16.h; '' or absent keeps it): info's matmul is what bf16 weights then get
//     ('f32' when the CPU lacks AVX512_BF16 or the kernel is not AVX-512), bf16Dot whether the CPU has it
//   matmul(heap, aOff, bOff, cOff, m, n, k, aRs, aCs, bRs, bCs,
//          batch, aIndex, bIndex, aMat, bMat, accumulate)
//     C[t] (+)= op(A[aIndex[t]]) op(B[bIndex[t]]) for t < batch; offsets in bytes, strides in floats,
//     aMat/bMat the floats between consecutive matrices; an index array may be null (identity).
//   softmax(heap, xOff, biasOff, yOff, lseOff, rows, cols, period, group, biasGroups)
//     y = softmax(x + bias) per row (ops.h); biasOff / lseOff -1 for none.
//   softmaxGrad(heap, yOff, dyOff, dxOff, rows, cols)           dx = y·(dy − Σ dy·y) per row
//   adam(heap, pOff, gOff, mOff, vOff, outOff, mOutOff, vOutOff, n,
//        gScale, beta1, beta2, eps, bc1, sqrtBc2, lr, decay)    one AdamW step (ops.h); pOff -1: direction only
//   adamHost(heap, gOff, outOff, m, v, n, gScale, beta1, beta2, eps, bc1, sqrtBc2)
//     the Adam direction of g (on the heap) into out (on the heap), its moments m and v Float32Arrays
//     outside the heap, updated in place (LoRA-Pro full mode's m×n moments)
//   swiglu(heap, gOff, uOff, hOff, n)                          h = silu(g)·u
//   swigluGrad(heap, gOff, uOff, dhOff, dgOff, duOff, n)       its backward (ops.h)
//   geluNew(heap, xOff, yOff, sOff, n, c1, c2)                 y = x·σ(x·(c1 + c2·x²)), s that σ
//   gram(heap, xOff, yOff, len, r, byRows) -> Float64Array     LoRA-Pro's r×r Gram of x and y in double (ops.h)
//   frozenMatmul(heap, xOff, yOff, n, weight, scales, format, out, in, mode)
//     a frozen [out, in] weight held outside the heap (frozen.h; weight any typed array, scales a
//     Float32Array or null): mode 0 y[n, out] = x[n, in]·Wᵀ, mode 1 dx[n, in] = dy[n, out]·W
//   frozenGather(heap, idsOff, outOff, count, weight, scales, format, rows, cols)
//     out[i] = W[ids[i]] as float32 for int32 ids on the heap, each checked against rows
#include <node_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "frozen.h"
#include "frozen_bf16.h"
#include "gemm.h"
#include "ops.h"
#include "pool.h"

namespace lorapro {
namespace {

std::unique_ptr<Pool> g_pool;

int default_threads() {
  if (const char* env = std::getenv("LORAPRO_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : int(hw);
}

Pool& pool() {
  if (!g_pool) g_pool = std::make_unique<Pool>(default_threads());
  return *g_pool;
}

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), nullptr, "lorapro native: " #call " failed"); \
      return nullptr;                                                      \
    }                                                                      \
  } while (0)

bool get_i64(napi_env env, napi_value v, int64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !std::isfinite(d)) return false;
  *out = int64_t(d);
  return true;
}

// An Int32Array argument, or null/undefined for "none".
bool get_index(napi_env env, napi_value v, const int32_t** out, size_t* length) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_null || type == napi_undefined) {
    *out = nullptr;
    *length = 0;
    return true;
  }
  napi_typedarray_type kind;
  void* data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &kind, length, &data, &buffer, &offset) != napi_ok || kind != napi_int32_array) return false;
  *out = static_cast<const int32_t*>(data);
  return true;
}

napi_value make_number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, isa;
  CHECK(env, napi_create_object(env, &obj));
  CHECK(env, napi_create_string_utf8(env, isa_name(current_isa()), NAPI_AUTO_LENGTH, &isa));
  napi_set_named_property(env, obj, "isa", isa);
  napi_set_named_property(env, obj, "threads", make_number(env, pool().threads()));
  napi_set_named_property(env, obj, "tileRows", make_number(env, tile_rows(current_isa(), 1 << 20)));
  napi_set_named_property(env, obj, "tileCols", make_number(env, tile_cols(current_isa(), 1 << 20)));
  const Frozen probe{nullptr, nullptr, Format::bf16, 1, 1};
  napi_value matmul, dot;
  CHECK(env, napi_create_string_utf8(env, frozen_bf16_active(probe) ? "bf16" : "f32", NAPI_AUTO_LENGTH, &matmul));
  CHECK(env, napi_get_boolean(env, bf16_dot_supported(), &dot));
  napi_set_named_property(env, obj, "matmul", matmul);
  napi_set_named_property(env, obj, "bf16Dot", dot);
  return obj;
}

napi_value Configure(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  int64_t threads = 0;
  if (argc > 0) get_i64(env, argv[0], &threads);
  if (threads > 0 && threads != pool().threads()) g_pool = std::make_unique<Pool>(int(threads));
  if (argc > 1) {
    char name[16] = {0};
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len) == napi_ok && len > 0) {
      const Isa best = detect_isa();
      Isa want = std::strcmp(name, "avx512") == 0 ? Isa::avx512 : std::strcmp(name, "avx2") == 0 ? Isa::avx2 : Isa::portable;
      if (std::strcmp(name, "portable") != 0 && want == Isa::portable) {
        napi_throw_range_error(env, nullptr, "lorapro native: isa must be avx512, avx2 or portable");
        return nullptr;
      }
      if (int(want) > int(best)) {
        napi_throw_range_error(env, nullptr, "lorapro native: this CPU lacks the requested instruction set");
        return nullptr;
      }
      set_isa(want);
    }
  }
  if (argc > 2) {
    char name[8] = {0};
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[2], name, sizeof name, &len) == napi_ok && len > 0) {
      if (std::strcmp(name, "bf16") != 0 && std::strcmp(name, "f32") != 0) {
        napi_throw_range_error(env, nullptr, "lorapro native: matmul must be bf16 or f32");
        return nullptr;
      }
      set_frozen_bf16(std::strcmp(name, "bf16") == 0);  // without AVX512_BF16 it stays asked for and f32 runs
    }
  }
  return Info(env, info);
}

// Below this many multiply-adds a product runs on the calling thread: waking a worker costs more.
constexpr int64_t PARALLEL_MACS = 1 << 16;

napi_value MatMul(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc != 17) {
    napi_throw_type_error(env, nullptr, "lorapro native: matmul takes 17 arguments");
    return nullptr;
  }
  void* heap;
  size_t heap_bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &heap, &heap_bytes) != napi_ok) {
    napi_throw_type_error(env, nullptr, "lorapro native: matmul's first argument must be an ArrayBuffer");
    return nullptr;
  }
  int64_t v[11];
  for (int i = 0; i < 11; i++)
    if (!get_i64(env, argv[1 + i], &v[i])) {
      napi_throw_type_error(env, nullptr, "lorapro native: matmul's offsets, sizes and strides must be numbers");
      return nullptr;
    }
  const int64_t a_off = v[0], b_off = v[1], c_off = v[2], m = v[3], n = v[4], k = v[5];
  const int64_t a_rs = v[6], a_cs = v[7], b_rs = v[8], b_cs = v[9], batch = v[10];
  const int32_t *a_index, *b_index;
  size_t a_len, b_len;
  int64_t a_stride, b_stride;
  bool accumulate = false;
  if (!get_index(env, argv[12], &a_index, &a_len) || !get_index(env, argv[13], &b_index, &b_len) ||
      !get_i64(env, argv[14], &a_stride) || !get_i64(env, argv[15], &b_stride) ||
      napi_get_value_bool(env, argv[16], &accumulate) != napi_ok) {
    napi_throw_type_error(env, nullptr, "lorapro native: matmul's index arrays must be Int32Array or null, strides numbers, accumulate a boolean");
    return nullptr;
  }
  if ((a_index && int64_t(a_len) < batch) || (b_index && int64_t(b_len) < batch) || m < 0 || n < 0 || k < 0 || batch < 0 ||
      a_off < 0 || b_off < 0 || c_off < 0 || (a_off | b_off | c_off) % 4 != 0 ||
      a_rs < 0 || a_cs < 0 || b_rs < 0 || b_cs < 0 || a_stride < 0 || b_stride < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: matmul's sizes, offsets or index arrays are out of range");
    return nullptr;
  }
  // Bounds: the last element each operand can touch must lie inside the heap.
  int64_t a_max = 0, b_max = 0;
  for (int64_t t = 0; t < batch; t++) {
    const int64_t ai = a_index ? a_index[t] : t, bi = b_index ? b_index[t] : t;
    if (ai < 0 || bi < 0) {
      napi_throw_range_error(env, nullptr, "lorapro native: matmul's index arrays hold a negative index");
      return nullptr;
    }
    a_max = std::max(a_max, ai);
    b_max = std::max(b_max, bi);
  }
  const int64_t floats = int64_t(heap_bytes / 4);
  const auto last = [](int64_t off, int64_t mat, int64_t idx, int64_t rows, int64_t rs, int64_t cols, int64_t cs) {
    return off / 4 + idx * mat + (rows - 1) * rs + (cols - 1) * cs;
  };
  if (batch > 0 && m > 0 && n > 0 &&
      ((k > 0 && (last(a_off, a_stride, a_max, m, a_rs, k, a_cs) >= floats || last(b_off, b_stride, b_max, k, b_rs, n, b_cs) >= floats)) ||
       c_off / 4 + batch * m * n > floats)) {
    napi_throw_range_error(env, nullptr, "lorapro native: matmul reads or writes past the end of the heap");
    return nullptr;
  }
  if (batch == 0 || m == 0 || n == 0) return nullptr;

  float* base = static_cast<float*>(heap);
  const Isa isa = current_isa();
  const int mr = tile_rows(isa, n), nr = tile_cols(isa, n);
  Pool& workers = pool();
  const int threads = workers.threads();
  // Tasks: whole matrices when the batch alone keeps every thread busy, else each matrix cut into row
  // or column bands (kept to the microkernel's tile multiples).
  const bool parallel = threads > 1 && batch * m * n * std::max<int64_t>(k, 1) >= PARALLEL_MACS;
  int64_t bands = 1;
  bool by_rows = true;
  if (parallel && batch < threads) {
    bands = (threads + batch - 1) / batch;
    by_rows = (m + mr - 1) / mr >= (n + nr - 1) / nr;
    const int64_t tiles = by_rows ? (m + mr - 1) / mr : (n + nr - 1) / nr;
    bands = std::max<int64_t>(1, std::min(bands, tiles));
  }
  const int64_t tile = by_rows ? mr : nr;
  const int64_t extent = by_rows ? m : n;
  const int64_t per_band = ((extent + bands - 1) / bands + tile - 1) / tile * tile;
  auto task = [&](int64_t id) {
    const int64_t t = id / bands, band = id % bands;
    GemmArgs g{};
    g.a = base + a_off / 4 + int64_t(a_index ? a_index[t] : t) * a_stride;
    g.b = base + b_off / 4 + int64_t(b_index ? b_index[t] : t) * b_stride;
    g.c = base + c_off / 4 + t * m * n;
    g.m = m, g.n = n, g.k = k;
    g.a_rs = a_rs, g.a_cs = a_cs, g.b_rs = b_rs, g.b_cs = b_cs, g.c_rs = n;
    g.accumulate = accumulate;
    const int64_t lo = std::min(extent, band * per_band), hi = std::min(extent, lo + per_band);
    if (by_rows) gemm_tile(isa, g, lo, hi, 0, n);
    else gemm_tile(isa, g, 0, m, lo, hi);
  };
  const unsigned mxcsr = flush_denormals();
  if (parallel) workers.run(batch * bands, task);
  else
    for (int64_t id = 0; id < batch * bands; id++) task(id);
  restore_denormals(mxcsr);
  return nullptr;
}

// Reads argc numbers after the heap, checking the call's arity. False (with an exception pending) on a bad call.
bool heap_call(napi_env env, napi_callback_info info, const char* name, size_t want, float** heap, int64_t* heap_floats, double* v) {
  size_t argc = 20;
  napi_value argv[20];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != want + 1) {
    napi_throw_type_error(env, nullptr, (std::string("lorapro native: ") + name + " takes " + std::to_string(want + 1) + " arguments").c_str());
    return false;
  }
  void* data;
  size_t bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &bytes) != napi_ok) {
    napi_throw_type_error(env, nullptr, (std::string("lorapro native: ") + name + "'s first argument must be an ArrayBuffer").c_str());
    return false;
  }
  *heap = static_cast<float*>(data);
  *heap_floats = int64_t(bytes / 4);
  for (size_t i = 0; i < want; i++)
    if (napi_get_value_double(env, argv[1 + i], &v[i]) != napi_ok || !std::isfinite(v[i])) {
      napi_throw_type_error(env, nullptr, (std::string("lorapro native: ") + name + "'s arguments after the heap must be finite numbers").c_str());
      return false;
    }
  return true;
}

// A float array of `count` floats at byte offset `off` inside the heap, or null for off == -1 when optional.
bool span(napi_env env, const char* name, float* heap, int64_t heap_floats, double off, int64_t count, bool optional, float** out) {
  if (optional && off == -1) {
    *out = nullptr;
    return true;
  }
  const int64_t o = int64_t(off);
  if (double(o) != off || o < 0 || o % 4 != 0 || count < 0 || o / 4 + count > heap_floats) {
    napi_throw_range_error(env, nullptr, (std::string("lorapro native: ") + name + " reads or writes outside the heap").c_str());
    return false;
  }
  *out = heap + o / 4;
  return true;
}

// Below this many floats an elementwise or row kernel runs on the calling thread.
constexpr int64_t PARALLEL_FLOATS = 1 << 15;

// Runs body(lo, hi) over [0, count) in one piece or in a chunk per thread.
template <class F>
void split(int64_t count, int64_t floats_per_item, F body) {
  Pool& workers = pool();
  const int64_t threads = workers.threads();
  const unsigned mxcsr = flush_denormals();
  if (threads == 1 || count * floats_per_item < PARALLEL_FLOATS || count < 2) {
    body(int64_t(0), count);
  } else {
    const int64_t chunks = std::min<int64_t>(threads, count), per = (count + chunks - 1) / chunks;
    workers.run(chunks, [&](int64_t c) { body(std::min(count, c * per), std::min(count, (c + 1) * per)); });
  }
  restore_denormals(mxcsr);
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[9];
  if (!heap_call(env, info, "softmax", 9, &heap, &floats, v)) return nullptr;
  const int64_t rows = int64_t(v[4]), cols = int64_t(v[5]), period = int64_t(v[6]), group = int64_t(v[7]), groups = int64_t(v[8]);
  if (rows < 0 || cols < 1 || period < 1 || group < 1 || groups < 1 || group % period != 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: softmax needs rows >= 0, cols >= 1 and a bias period dividing its group");
    return nullptr;
  }
  SoftmaxArgs a{};
  float *x, *y;
  if (!span(env, "softmax", heap, floats, v[0], rows * cols, false, &x) ||
      !span(env, "softmax", heap, floats, v[1], groups * period * cols, true, const_cast<float**>(&a.bias)) ||
      !span(env, "softmax", heap, floats, v[2], rows * cols, false, &y) || !span(env, "softmax", heap, floats, v[3], rows, true, &a.lse))
    return nullptr;
  a.x = x, a.y = y, a.cols = cols, a.period = period, a.group = group, a.bias_groups = groups;
  const Isa isa = current_isa();
  split(rows, cols, [&](int64_t lo, int64_t hi) { softmax_rows(isa, a, lo, hi); });
  return nullptr;
}

napi_value SoftmaxGrad(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[5];
  if (!heap_call(env, info, "softmaxGrad", 5, &heap, &floats, v)) return nullptr;
  const int64_t rows = int64_t(v[3]), cols = int64_t(v[4]);
  if (rows < 0 || cols < 1) {
    napi_throw_range_error(env, nullptr, "lorapro native: softmaxGrad needs rows >= 0 and cols >= 1");
    return nullptr;
  }
  float *y, *dy, *dx;
  if (!span(env, "softmaxGrad", heap, floats, v[0], rows * cols, false, &y) || !span(env, "softmaxGrad", heap, floats, v[1], rows * cols, false, &dy) ||
      !span(env, "softmaxGrad", heap, floats, v[2], rows * cols, false, &dx))
    return nullptr;
  const Isa isa = current_isa();
  split(rows, cols, [&](int64_t lo, int64_t hi) { softmax_grad_rows(isa, y, dy, dx, cols, lo, hi); });
  return nullptr;
}

napi_value Adam(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[16];
  if (!heap_call(env, info, "adam", 16, &heap, &floats, v)) return nullptr;
  const int64_t n = int64_t(v[7]);
  if (n < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: adam needs n >= 0");
    return nullptr;
  }
  AdamArgs a{};
  float *p, *g, *m, *s;
  if (!span(env, "adam", heap, floats, v[0], n, true, &p) || !span(env, "adam", heap, floats, v[1], n, false, &g) ||
      !span(env, "adam", heap, floats, v[2], n, false, &m) || !span(env, "adam", heap, floats, v[3], n, false, &s) ||
      !span(env, "adam", heap, floats, v[4], n, false, &a.out) || !span(env, "adam", heap, floats, v[5], n, false, &a.m_out) ||
      !span(env, "adam", heap, floats, v[6], n, false, &a.v_out))
    return nullptr;
  a.p = p, a.g = g, a.m = m, a.v = s;
  // The scalars TF.js would make float32 tensors of: each rounded once, as there.
  a.g_scale = float(v[8]), a.beta1 = float(v[9]), a.one_minus_beta1 = float(1 - v[9]), a.beta2 = float(v[10]), a.one_minus_beta2 = float(1 - v[10]);
  a.eps = float(v[11]), a.bc1 = float(v[12]), a.sqrt_bc2 = float(v[13]), a.lr = float(v[14]), a.decay = float(v[15]);
  const Isa isa = current_isa();
  split(n, 1, [&](int64_t lo, int64_t hi) { adam_range(isa, a, lo, hi); });
  return nullptr;
}

// A Float32Array of at least `count` floats (outside the heap), or a thrown TypeError.
bool host_floats(napi_env env, const char* name, napi_value value, int64_t count, float** out) {
  napi_typedarray_type kind;
  size_t length, offset;
  void* data;
  napi_value buffer;
  if (napi_get_typedarray_info(env, value, &kind, &length, &data, &buffer, &offset) != napi_ok || kind != napi_float32_array || int64_t(length) < count) {
    napi_throw_type_error(env, nullptr, (std::string("lorapro native: ") + name + "'s moments must be Float32Arrays of n floats").c_str());
    return false;
  }
  *out = static_cast<float*>(data);
  return true;
}

napi_value AdamHost(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 12) {
    napi_throw_type_error(env, nullptr, "lorapro native: adamHost takes 12 arguments");
    return nullptr;
  }
  void* data;
  size_t bytes;
  if (napi_get_arraybuffer_info(env, argv[0], &data, &bytes) != napi_ok) {
    napi_throw_type_error(env, nullptr, "lorapro native: adamHost's first argument must be an ArrayBuffer");
    return nullptr;
  }
  double v[12];
  for (int i : {1, 2, 5, 6, 7, 8, 9, 10, 11})
    if (napi_get_value_double(env, argv[i], &v[i]) != napi_ok || !std::isfinite(v[i])) {
      napi_throw_type_error(env, nullptr, "lorapro native: adamHost's offsets, size and scalars must be finite numbers");
      return nullptr;
    }
  const int64_t n = int64_t(v[5]);
  if (n < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: adamHost needs n >= 0");
    return nullptr;
  }
  float* heap = static_cast<float*>(data);
  const int64_t heap_floats = int64_t(bytes / 4);
  float *g, *out, *m, *s;
  if (!span(env, "adamHost", heap, heap_floats, v[1], n, false, &g) || !span(env, "adamHost", heap, heap_floats, v[2], n, false, &out) ||
      !host_floats(env, "adamHost", argv[3], n, &m) || !host_floats(env, "adamHost", argv[4], n, &s))
    return nullptr;
  AdamArgs a{};
  // moments in place: adam_range reads m[i], v[i] before it writes them, lane by lane
  a.p = nullptr, a.g = g, a.m = m, a.v = s, a.out = out, a.m_out = m, a.v_out = s;
  a.g_scale = float(v[6]), a.beta1 = float(v[7]), a.one_minus_beta1 = float(1 - v[7]), a.beta2 = float(v[8]), a.one_minus_beta2 = float(1 - v[8]);
  a.eps = float(v[9]), a.bc1 = float(v[10]), a.sqrt_bc2 = float(v[11]), a.lr = 0, a.decay = 1;
  const Isa isa = current_isa();
  split(n, 1, [&](int64_t lo, int64_t hi) { adam_range(isa, a, lo, hi); });
  return nullptr;
}

napi_value Swiglu(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[4];
  if (!heap_call(env, info, "swiglu", 4, &heap, &floats, v)) return nullptr;
  const int64_t n = int64_t(v[3]);
  float *g, *u, *h;
  if (n < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: swiglu needs n >= 0");
    return nullptr;
  }
  if (!span(env, "swiglu", heap, floats, v[0], n, false, &g) || !span(env, "swiglu", heap, floats, v[1], n, false, &u) ||
      !span(env, "swiglu", heap, floats, v[2], n, false, &h)) {
    return nullptr;
  }
  const Isa isa = current_isa();
  split(n, 1, [&](int64_t lo, int64_t hi) { swiglu_range(isa, g, u, h, lo, hi); });
  return nullptr;
}

napi_value SwigluGrad(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[6];
  if (!heap_call(env, info, "swigluGrad", 6, &heap, &floats, v)) return nullptr;
  const int64_t n = int64_t(v[5]);
  float *g, *u, *dh, *dg, *du;
  if (n < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: swigluGrad needs n >= 0");
    return nullptr;
  }
  if (!span(env, "swigluGrad", heap, floats, v[0], n, false, &g) || !span(env, "swigluGrad", heap, floats, v[1], n, false, &u) ||
      !span(env, "swigluGrad", heap, floats, v[2], n, false, &dh) || !span(env, "swigluGrad", heap, floats, v[3], n, false, &dg) ||
      !span(env, "swigluGrad", heap, floats, v[4], n, false, &du)) {
    return nullptr;
  }
  const Isa isa = current_isa();
  split(n, 1, [&](int64_t lo, int64_t hi) { swiglu_grad_range(isa, g, u, dh, dg, du, lo, hi); });
  return nullptr;
}

napi_value GeluNew(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[6];
  if (!heap_call(env, info, "geluNew", 6, &heap, &floats, v)) return nullptr;
  const int64_t n = int64_t(v[3]);
  if (n < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: geluNew needs n >= 0");
    return nullptr;
  }
  float *x, *y, *s;
  if (!span(env, "geluNew", heap, floats, v[0], n, false, &x) || !span(env, "geluNew", heap, floats, v[1], n, false, &y) ||
      !span(env, "geluNew", heap, floats, v[2], n, false, &s))
    return nullptr;
  const float c1 = float(v[4]), c2 = float(v[5]);
  const Isa isa = current_isa();
  split(n, 1, [&](int64_t lo, int64_t hi) { gelu_new_range(isa, x, y, s, c1, c2, lo, hi); });
  return nullptr;
}

napi_value Gram(napi_env env, napi_callback_info info) {
  float* heap;
  int64_t floats;
  double v[5];
  if (!heap_call(env, info, "gram", 5, &heap, &floats, v)) return nullptr;
  const int64_t len = int64_t(v[2]), r = int64_t(v[3]);
  if (len < 0 || r < 1 || r > 4096) {
    napi_throw_range_error(env, nullptr, "lorapro native: gram needs len >= 0 and 1 <= r <= 4096");
    return nullptr;
  }
  float *x, *y;
  if (!span(env, "gram", heap, floats, v[0], len * r, false, &x) || !span(env, "gram", heap, floats, v[1], len * r, false, &y)) return nullptr;
  napi_value buffer, result;
  void* data;
  CHECK(env, napi_create_arraybuffer(env, size_t(r * r) * sizeof(double), &data, &buffer));
  CHECK(env, napi_create_typedarray(env, napi_float64_array, size_t(r * r), buffer, 0, &result));
  gram(current_isa(), x, y, len, r, v[4] != 0, static_cast<double*>(data));
  return result;
}

// A frozen weight's bytes (any typed array or ArrayBuffer) and scales (Float32Array or null), checked
// against the sizes its format needs for [rows, cols]. False with an exception pending otherwise.
bool frozen_arg(napi_env env, const char* name, napi_value weight, napi_value scales, double format, int64_t rows, int64_t cols, Frozen* out) {
  const auto fail = [&](const std::string& why) {
    napi_throw_range_error(env, nullptr, (std::string("lorapro native: ") + name + ": " + why).c_str());
    return false;
  };
  if (format != 0 && format != 1 && format != 2 && format != 3 && format != 4 && format != 5) return fail("format must be 0 (f32), 1 (bf16), 2 (f16), 3 (int8), 4 (nf4) or 5 (nf4-dq)");
  if (rows < 1 || cols < 1) return fail("the weight needs rows and cols >= 1");
  const Format f = Format(int(format));
  void* data = nullptr;
  size_t bytes = 0;
  bool is_typed = false, is_buffer = false;
  napi_is_typedarray(env, weight, &is_typed);
  napi_is_arraybuffer(env, weight, &is_buffer);
  if (is_typed) {
    napi_typedarray_type kind;
    size_t length, offset;
    napi_value buffer;
    if (napi_get_typedarray_info(env, weight, &kind, &length, &data, &buffer, &offset) != napi_ok) return fail("cannot read the weight array");
    size_t element = 1;
    if (kind == napi_int16_array || kind == napi_uint16_array) element = 2;
    else if (kind == napi_int32_array || kind == napi_uint32_array || kind == napi_float32_array) element = 4;
    else if (kind == napi_float64_array || kind == napi_bigint64_array || kind == napi_biguint64_array) element = 8;
    bytes = length * element;
  } else if (is_buffer) {
    if (napi_get_arraybuffer_info(env, weight, &data, &bytes) != napi_ok) return fail("cannot read the weight buffer");
  } else {
    return fail("the weight must be a typed array or an ArrayBuffer");
  }
  if (int64_t(bytes) < frozen_data_bytes(f, rows, cols)) return fail("the weight holds fewer bytes than its format needs for [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
  const float* scale_data = nullptr;
  const int64_t want = frozen_scale_count(f, rows, cols);
  napi_valuetype type;
  napi_typeof(env, scales, &type);
  if (want > 0) {
    napi_typedarray_type kind;
    size_t length, offset;
    napi_value buffer;
    void* p;
    if (type == napi_null || type == napi_undefined || napi_get_typedarray_info(env, scales, &kind, &length, &p, &buffer, &offset) != napi_ok ||
        kind != napi_float32_array || int64_t(length) < want)
      return fail("int8, nf4 and nf4-dq weights need a Float32Array of " + std::to_string(want) + " scales");
    scale_data = static_cast<const float*>(p);
  }
  *out = Frozen{static_cast<const uint8_t*>(data), scale_data, f, rows, cols};
  return true;
}

napi_value FrozenMatmul(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* heap;
  size_t heap_bytes;
  if (argc != 10 || napi_get_arraybuffer_info(env, argv[0], &heap, &heap_bytes) != napi_ok) {
    napi_throw_type_error(env, nullptr, "lorapro native: frozenMatmul takes 10 arguments, the first the heap's ArrayBuffer");
    return nullptr;
  }
  double v[7];
  const int idx[7] = {1, 2, 3, 6, 7, 8, 9};
  for (int i = 0; i < 7; i++)
    if (napi_get_value_double(env, argv[idx[i]], &v[i]) != napi_ok || !std::isfinite(v[i])) {
      napi_throw_type_error(env, nullptr, "lorapro native: frozenMatmul's offsets, sizes, format and mode must be finite numbers");
      return nullptr;
    }
  const int64_t n = int64_t(v[2]), rows = int64_t(v[4]), cols = int64_t(v[5]);
  const int mode = int(v[6]);
  if (n < 0 || (mode != 0 && mode != 1)) {
    napi_throw_range_error(env, nullptr, "lorapro native: frozenMatmul needs n >= 0 and mode 0 (y = x·Wᵀ) or 1 (dx = dy·W)");
    return nullptr;
  }
  Frozen w{};
  if (!frozen_arg(env, "frozenMatmul", argv[4], argv[5], v[3], rows, cols, &w)) return nullptr;
  const int64_t k = mode == 0 ? cols : rows, width = mode == 0 ? rows : cols;
  float* base = static_cast<float*>(heap);
  const int64_t floats = int64_t(heap_bytes / 4);
  float *a, *c;
  if (!span(env, "frozenMatmul", base, floats, v[0], n * k, false, &a) || !span(env, "frozenMatmul", base, floats, v[1], n * width, false, &c)) return nullptr;
  if (n == 0) return nullptr;
  const GemmArgs g = frozen_gemm_args(&w, mode, a, c, n);
  const Isa isa = current_isa();
  const bool bf16 = frozen_bf16_active(w);
  const int mr = bf16 ? BF16_MR : tile_rows(isa, width), nr = bf16 ? BF16_NR : tile_cols(isa, width);
  Pool& workers = pool();
  const int64_t threads = workers.threads();
  // Column bands (output features) by default, so each thread converts only its part of W; row bands
  // only when W has fewer column tiles than threads.
  const int64_t col_tiles = (width + nr - 1) / nr, row_tiles = (n + mr - 1) / mr;
  const bool parallel = threads > 1 && n * width * k >= PARALLEL_MACS;
  const bool by_rows = col_tiles < threads;
  const int64_t bands = parallel ? std::max<int64_t>(1, std::min(threads, by_rows ? row_tiles : col_tiles)) : 1;
  const int64_t tile = by_rows ? mr : nr, extent = by_rows ? n : width;
  const int64_t per_band = ((extent + bands - 1) / bands + tile - 1) / tile * tile;
  auto task = [&](int64_t band) {
    const int64_t lo = std::min(extent, band * per_band), hi = std::min(extent, lo + per_band);
    if (bf16) frozen_bf16_tile(w, mode, a, c, n, by_rows ? lo : 0, by_rows ? hi : n, by_rows ? 0 : lo, by_rows ? width : hi);
    else if (by_rows) gemm_tile(isa, g, lo, hi, 0, width);
    else gemm_tile(isa, g, 0, n, lo, hi);
  };
  const unsigned mxcsr = flush_denormals();
  if (bands > 1) workers.run(bands, task);
  else task(0);
  restore_denormals(mxcsr);
  return nullptr;
}

napi_value FrozenGather(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  void* heap;
  size_t heap_bytes;
  if (argc != 9 || napi_get_arraybuffer_info(env, argv[0], &heap, &heap_bytes) != napi_ok) {
    napi_throw_type_error(env, nullptr, "lorapro native: frozenGather takes 9 arguments, the first the heap's ArrayBuffer");
    return nullptr;
  }
  double v[6];
  const int idx[6] = {1, 2, 3, 6, 7, 8};
  for (int i = 0; i < 6; i++)
    if (napi_get_value_double(env, argv[idx[i]], &v[i]) != napi_ok || !std::isfinite(v[i])) {
      napi_throw_type_error(env, nullptr, "lorapro native: frozenGather's offsets, sizes and format must be finite numbers");
      return nullptr;
    }
  const int64_t count = int64_t(v[2]), rows = int64_t(v[4]), cols = int64_t(v[5]);
  if (count < 0) {
    napi_throw_range_error(env, nullptr, "lorapro native: frozenGather needs count >= 0");
    return nullptr;
  }
  Frozen w{};
  if (!frozen_arg(env, "frozenGather", argv[4], argv[5], v[3], rows, cols, &w)) return nullptr;
  float* base = static_cast<float*>(heap);
  const int64_t floats = int64_t(heap_bytes / 4);
  float *ids_f, *out;
  if (!span(env, "frozenGather", base, floats, v[0], count, false, &ids_f) || !span(env, "frozenGather", base, floats, v[1], count * cols, false, &out)) return nullptr;
  const int32_t* ids = reinterpret_cast<const int32_t*>(ids_f);
  for (int64_t i = 0; i < count; i++)
    if (ids[i] < 0 || ids[i] >= rows) {
      napi_throw_range_error(env, nullptr, ("lorapro native: frozenGather: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) + " is outside [0, " + std::to_string(rows) + ")").c_str());
      return nullptr;
    }
  split(count, cols, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) frozen_decode(w, ids[i], 0, cols, out + i * cols);
  });
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"configure", nullptr, Configure, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"matmul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmax", nullptr, Softmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softmaxGrad", nullptr, SoftmaxGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, Adam, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamHost", nullptr, AdamHost, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swiglu", nullptr, Swiglu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"swigluGrad", nullptr, SwigluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluNew", nullptr, GeluNew, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"gram", nullptr, Gram, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"frozenMatmul", nullptr, FrozenMatmul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"frozenGather", nullptr, FrozenGather, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace
}  // namespace lorapro

NAPI_MODULE(NODE_GYP_MODULE_NAME, lorapro::Init)

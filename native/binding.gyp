# The optional native engine (see docs/ARCHITECTURE.md). Built for baseline x86-64 or any other CPU:
# the AVX2 and AVX-512 kernels carry their own target attributes and are picked at run time.
{
  "targets": [
    {
      "target_name": "lorapro",
      "sources": ["src/addon.cc", "src/gemm.cc", "src/pool.cc", "src/ops.cc", "src/frozen.cc", "src/frozen_bf16.cc"],
      "cflags!": ["-O2", "-O0"],
      "cflags_cc!": ["-O2", "-O0"],
      "cflags_cc": ["-O3", "-std=gnu++17", "-fno-math-errno", "-pthread"],
      "ldflags": ["-pthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}

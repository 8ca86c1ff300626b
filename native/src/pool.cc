#include "pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define LORAPRO_X86 1
#endif

namespace {
inline void cpu_relax() {
#ifdef LORAPRO_X86
  _mm_pause();
#endif
}
}  // namespace

namespace lorapro {

unsigned flush_denormals() {
#ifdef LORAPRO_X86
  const unsigned previous = _mm_getcsr();
  _mm_setcsr(previous | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
  return previous;
#else
  return 0;
#endif
}

void restore_denormals(unsigned previous) {
#ifdef LORAPRO_X86
  _mm_setcsr(previous);
#else
  (void)previous;
#endif
}

Pool::Pool(int threads) {
  for (int i = 1; i < threads; i++) workers_.emplace_back([this, i] { work(i); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void Pool::drain() {
  for (;;) {
    const int64_t i = next_.fetch_add(1);
    if (i >= count_.load()) return;
    (*task_.load())(i);
    done_.fetch_add(1, std::memory_order_release);
  }
}

void Pool::run(int64_t count, const std::function<void(int64_t)>& task) {
  if (count <= 0) return;
  if (workers_.empty() || count == 1) {
    for (int64_t i = 0; i < count; i++) task(i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_.store(&task);
    count_.store(count);
    next_.store(0);
    done_.store(0);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain();
  while (done_.load(std::memory_order_acquire) < count) cpu_relax();
  // Workers still between their last fetch_add and leaving must not see the next job's counters early.
  while (active_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void Pool::work(int index) {
  (void)index;
  flush_denormals();
  uint64_t seen = 0;
  for (;;) {
    // Spin ~100 us for the next job before sleeping.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < until) cpu_relax();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      active_.fetch_add(1);
    }
    drain();
    active_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace lorapro

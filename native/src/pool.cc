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
  for (int i = 1; i < threads; i++) workers_.emplace_back([this] { work(); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    job_++;
    ticket_.store(uint64_t(job_) << 32);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void Pool::drain(uint32_t id, int64_t count, const std::function<void(int64_t)>* task) {
  uint64_t ticket = ticket_.load(std::memory_order_acquire);
  for (;;) {
    if (uint32_t(ticket >> 32) != id || int64_t(ticket & 0xFFFFFFFFu) >= count) return;
    if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel)) continue;  // ticket reloaded
    (*task)(int64_t(ticket & 0xFFFFFFFFu));  // dereferenced only for a task claimed in this job
    done_.fetch_add(1, std::memory_order_release);
    ticket = ticket_.load(std::memory_order_acquire);
  }
}

void Pool::run(int64_t count, const std::function<void(int64_t)>& task) {
  if (count <= 0) return;
  if (workers_.empty() || count == 1 || count > 0xFFFFFFFFll) {
    for (int64_t i = 0; i < count; i++) task(i);
    return;
  }
  uint32_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = ++job_;
    count_ = count;
    task_ = &task;
    done_.store(0);
    ticket_.store(uint64_t(id) << 32, std::memory_order_release);
  }
  wake_.notify_all();
  drain(id, count, &task);
  // Every task claimed has finished once done_ reaches count; a worker that comes late finds the job
  // exhausted (or superseded) and never touches `task`.
  while (done_.load(std::memory_order_acquire) < count) cpu_relax();
}

void Pool::work() {
  flush_denormals();
  uint32_t seen = 0;
  for (;;) {
    // Spin ~100 us for the next job before sleeping.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (uint32_t(ticket_.load(std::memory_order_acquire) >> 32) == seen && std::chrono::steady_clock::now() < until) cpu_relax();
    uint32_t id;
    int64_t count;
    const std::function<void(int64_t)>* task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return job_ != seen; });
      if (stop_) return;
      seen = id = job_;
      count = count_;
      task = task_;
    }
    drain(id, count, task);
  }
}

}  // namespace lorapro

// A persistent pool of worker threads. The calling thread works too, so a pool of n threads starts
// n - 1 workers. Workers spin briefly after a job (the next kernel of a training step usually follows
// within microseconds), then sleep on a condition variable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lorapro {

class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return int(workers_.size()) + 1; }

  // Runs task(0) .. task(count - 1), each exactly once, spread over the pool; returns when all are done.
  void run(int64_t count, const std::function<void(int64_t)>& task);

 private:
  void work();
  // Claims and runs tasks of job `id` until none is left or a newer job has started.
  void drain(uint32_t id, int64_t count, const std::function<void(int64_t)>* task);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // The current job's id and its next unclaimed task in one word, (id << 32) | index, so that a worker
  // still holding an older job can never claim a task of the new one.
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int64_t> done_{0};
  // Set under mutex_ with each job; a worker copies them there when it joins the job.
  uint32_t job_ = 0;
  int64_t count_ = 0;
  const std::function<void(int64_t)>* task_ = nullptr;
  bool stop_ = false;
};

// Flush-to-zero and denormals-are-zero for the calling thread (x86 MXCSR); returns the previous state.
unsigned flush_denormals();
void restore_denormals(unsigned previous);

}  // namespace lorapro

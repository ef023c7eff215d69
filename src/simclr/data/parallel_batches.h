// Produces batches 0..count-1 on worker threads and hands them out in order,
// at most `prefetch` ahead of the consumer. Which thread builds which batch
// does not matter: a batch must be a pure function of its index, which is
// what makes results independent of the number of loader threads.
#pragma once
#include <condition_variable>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace simclr::data {

template <class Batch>
class ParallelBatches {
 public:
  using MakeBatch = std::function<Batch(int64_t)>;

  // workers == 0 builds each batch on the calling thread inside next().
  ParallelBatches(int64_t count, int workers, int prefetch, MakeBatch make)
      : count_(count), prefetch_(std::max(1, prefetch)), make_(std::move(make)) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  }
  ParallelBatches(const ParallelBatches&) = delete;
  ParallelBatches& operator=(const ParallelBatches&) = delete;

  ~ParallelBatches() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  // The next batch in order, or nullopt after the last. Rethrows a worker's
  // exception (e.g. an undecodable image) on the consumer's thread.
  std::optional<Batch> next() {
    if (consumed_ >= count_) return std::nullopt;
    if (threads_.empty()) return make_(consumed_++);
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
    auto node = ready_.extract(consumed_);
    ++consumed_;
    lock.unlock();
    cv_.notify_all();
    if (node.mapped().error) std::rethrow_exception(node.mapped().error);
    return std::move(node.mapped().batch);
  }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void work() {
    while (true) {
      int64_t index;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || (claimed_ < count_ && claimed_ < consumed_ + prefetch_); });
        if (stop_) return;
        index = claimed_++;
      }
      Slot slot;
      try {
        slot.batch = make_(index);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(index, std::move(slot));
      }
      cv_.notify_all();
    }
  }

  const int64_t count_;
  const int64_t prefetch_;
  MakeBatch make_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int64_t, Slot> ready_;
  int64_t claimed_ = 0;
  int64_t consumed_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace simclr::data

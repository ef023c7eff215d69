// Data-parallel gradient averaging, the way PyTorch DDP's reducer does it:
// parameters are grouped into buckets of about `bucket_mb` (the first one of
// at most 1 MB) in the reverse of their registration order (roughly the order backward produces their
// gradients); a hook on each parameter copies its gradient into its bucket,
// and a full bucket starts an asynchronous all-reduce while backward goes on
// computing the earlier layers. Buckets start strictly in index order on
// every rank (a collective must be issued in the same order everywhere), so a
// bucket that fills early waits for its predecessors.
//
// Usage per step: begin() before backward, finish() after it; finish() waits
// for the all-reduces and writes the ranks' mean into every .grad. A step in
// micro-batches (train/micro_batch.h) back-propagates several passes within
// one backward; it says how many with expect_passes(), and each parameter's
// bucket sums its passes' gradients before it counts as ready.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "simclr/distributed/communicator.h"

namespace simclr::distributed {

class GradientAverager {
 public:
  GradientAverager(std::vector<torch::Tensor> parameters, std::shared_ptr<Communicator> comm, double bucket_mb);
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  void begin();
  // Within a step, before the first gradient: each parameter's gradient
  // arrives `passes` times (1 after begin()).
  void expect_passes(int64_t passes);
  void finish();
  size_t bucket_count() const { return buckets_.size(); }
  // Buckets whose all-reduce started while backward was still running in the last step.
  int64_t overlapped_buckets() const { return overlapped_; }

 private:
  struct Bucket {
    torch::Tensor flat;                  // fp32 (the parameters' dtype), contiguous
    std::vector<size_t> params;          // indices into parameters_
    std::vector<int64_t> offsets;        // each parameter's offset in flat
    size_t ready = 0;                    // gradients copied in this step
    c10::intrusive_ptr<c10d::Work> work; // the running all-reduce
  };
  void on_gradient(size_t param, const torch::Tensor& grad);
  void launch_ready();

  std::vector<torch::Tensor> parameters_;
  std::shared_ptr<Communicator> comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, int64_t>> where_;  // parameter -> (bucket, offset)
  std::vector<int64_t> arrived_;  // gradients of each parameter in this step
  int64_t passes_ = 1;
  std::vector<unsigned> hooks_;
  size_t next_launch_ = 0;
  bool armed_ = false;
  int64_t overlapped_ = 0;
};

}  // namespace simclr::distributed

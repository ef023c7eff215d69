// The batch-norm layer of the SimCLR model, for [N, C] and [N, C, H, W]
// inputs: torch.nn.BatchNorm's parameters, buffers, names (weight, bias,
// running_mean, running_var, num_batches_tracked), defaults and arithmetic
// (torch::batch_norm), plus one thing torch::nn's C++ modules lack: given a
// data-parallel run's communicator (set_batch_norm_sync), training mode
// normalises with the statistics of the global batch over all ranks
// (distributed/sync_batch_norm.h). Evaluation mode always uses the running
// statistics, which global BN keeps identical on every rank.
//
// (It is a module of its own rather than a subclass of torch::nn::BatchNorm2d
// because LibTorch does not export the base-class symbols a subclass needs.)
#pragma once
#include <torch/torch.h>

#include <memory>

#include "simclr/distributed/communicator.h"

namespace simclr::models {

struct BatchNormOptions {
  /* implicit */ BatchNormOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
};

class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(const BatchNormOptions& options);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  void set_sync_group(std::shared_ptr<distributed::Communicator> group) { group_ = std::move(group); }
  bool synced() const { return group_ != nullptr; }

  BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  std::shared_ptr<distributed::Communicator> group_;
};
TORCH_MODULE(BatchNorm);

// Gives every batch-norm layer under `module` the communicator (nullptr:
// back to per-process statistics). Returns how many layers it set.
int set_batch_norm_sync(torch::nn::Module& module, std::shared_ptr<distributed::Communicator> group);

}  // namespace simclr::models

// The plain step that the gradient cache (train/micro_batch.h) must equal,
// shared by micro_batch_test.cpp and distributed_test.cpp: each micro-batch
// forward with autograd and its activations kept, the projections put back
// in row order, one loss over the whole batch (every rank's with global
// negatives) and one ordinary backward.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "simclr/train/micro_batch.h"
#include "simclr/train/step.h"

namespace simclr::testing {

inline loss::NtXentOutput reference_forward_loss(models::SimclrModel& model, const torch::Tensor& views,
                                                 const loss::LossOptions& loss, const train::MicroBatching& micro,
                                                 const train::Parallel& parallel = {}) {
  const int64_t n = views.size(0) / 2;
  std::vector<torch::Tensor> parts;
  std::vector<int64_t> order;
  for (const auto& batch : train::plan_micro_batches(n, micro)) {
    parts.push_back(model->forward(train::take_rows(views, batch)).z);
    for (const auto& [first, count] : batch.ranges) {
      for (int64_t r = first; r < first + count; ++r) order.push_back(r);
    }
  }
  auto inverse = torch::empty({2 * n}, torch::kLong);
  inverse.index_put_({torch::tensor(order, torch::kLong)}, torch::arange(2 * n, torch::kLong));
  return train::projections_loss(torch::cat(parts, 0).index_select(0, inverse), loss, parallel);
}

}  // namespace simclr::testing

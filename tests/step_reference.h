// What micro_batch_test.cpp and distributed_test.cpp compare runs with.
//
// reference_forward_loss: the plain step that the gradient cache
// (train/micro_batch.h) must equal: each micro-batch
// forward with autograd and its activations kept, the projections put back
// in row order, one loss over the whole batch (every rank's with global
// negatives) and one ordinary backward.
#pragma once
#include <torch/torch.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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

// |a - b| / |b| in double.
inline double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  return (x - y).norm().item<double>() / std::max(y.norm().item<double>(), 1e-12);
}

// All parameters' gradients (or weights) as one vector: the relative
// difference of the whole, as the 1e-5 asks, which a tensor whose
// gradient nearly cancels cannot blow up.
inline torch::Tensor flat(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.to(torch::kDouble).reshape(-1));
  return torch::cat(parts);
}

// A few training steps: each step's loss, the first step's gradients, and
// the weights and buffers at the end.
struct StepTrace {
  std::vector<double> losses;
  std::vector<torch::Tensor> first_grads, weights, buffers;
};

inline void expect_same_run(const StepTrace& t, const StepTrace& ref, double tolerance) {
  ASSERT_EQ(t.losses.size(), ref.losses.size());
  for (size_t s = 0; s < t.losses.size(); ++s) {
    EXPECT_NEAR(t.losses[s], ref.losses[s], tolerance * std::abs(ref.losses[s])) << "step " << s;
  }
  EXPECT_LT(relative_difference(flat(t.first_grads), flat(ref.first_grads)), tolerance);
  EXPECT_LT(relative_difference(flat(t.weights), flat(ref.weights)), tolerance);
  EXPECT_LT(relative_difference(flat(t.buffers), flat(ref.buffers)), tolerance);
}

}  // namespace simclr::testing

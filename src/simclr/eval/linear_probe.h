// The linear evaluation protocol (paper section 4, appendix B.5): a
// multinomial logistic regression on frozen features, fitted full-batch with
// L-BFGS on standardised features. The L2 strength is chosen from a grid on
// a seeded 10% hold-out of the training split, then the classifier is refit
// on the whole training split and scored on the test split.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "simclr/eval/features.h"

namespace simclr::eval {

struct LinearProbeOptions {
  std::vector<double> weight_decays = {0, 1e-6, 1e-5, 1e-4, 1e-3};
  int64_t max_iter = 500;
  double holdout_fraction = 0.1;
  uint64_t seed = 0;
};

struct LinearProbeResult {
  double top1 = 0, top5 = 0;     // test split, in [0, 1]
  double weight_decay = 0;       // chosen L2 strength
  std::vector<double> holdout_top1;  // per grid value
  double train_top1 = 0;
};

// A fitted classifier: logits = ((x - mean) / std) W^T + b.
struct LinearClassifier {
  torch::Tensor mean, std, weight, bias;
  torch::Tensor logits(const torch::Tensor& x) const;
};

LinearClassifier fit_logistic_regression(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                                         double weight_decay, int64_t max_iter);

// Top-k accuracy of logits against labels, in [0, 1].
double topk_accuracy(const torch::Tensor& logits, const torch::Tensor& y, int64_t k);

LinearProbeResult linear_probe(const Features& train, const Features& test, const LinearProbeOptions& options);

}  // namespace simclr::eval

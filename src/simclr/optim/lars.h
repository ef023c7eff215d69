// LARS (You et al. 2017) as used by SimCLR (paper section B.1 and the
// official TensorFlow implementation), and plain momentum SGD as the same
// update with the trust ratio fixed to 1.
//
// For each parameter w with gradient g:
//   if w is a weight (dim > 1): g += weight_decay * w
//                               trust = eta * ||w|| / ||g||  (1 if either norm is 0)
//   else (BN and bias):        no weight decay, trust = 1
//   v = momentum * v + lr * trust * g;   w -= v
// BN parameters and biases are excluded from both the adaptation and the
// decay, the detail other implementations get wrong (SIMCLR.md).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace simclr::optim {

struct LarsOptions {
  double momentum = 0.9;
  double weight_decay = 1e-6;
  double trust = 1e-3;  // eta
  bool adapt = true;    // false = momentum SGD
};

class Lars {
 public:
  Lars(std::vector<torch::Tensor> params, LarsOptions options);

  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  void zero_grad();
  void step();

  // A parameter is adapted and decayed iff it has more than one dimension.
  static bool is_excluded(const torch::Tensor& param) { return param.dim() <= 1; }

  // The momentum buffers (views of the optimizer's own), e.g. to broadcast them.
  const std::vector<torch::Tensor>& state() const { return momentum_; }

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> momentum_;
  LarsOptions options_;
  double lr_ = 0;
};

}  // namespace simclr::optim

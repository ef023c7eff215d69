#include "simclr/loss/nt_xent.h"

#include <limits>

#include "simclr/core/error.h"

namespace simclr::loss {

NtXentOutput nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  SIMCLR_CHECK(temperature > 0, "NT-Xent temperature must be positive, got {}", temperature);
  SIMCLR_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes() && z1.size(0) >= 1,
               "NT-Xent expects two [N, d] tensors of equal shape, got {} and {}", c10::str(z1.sizes()), c10::str(z2.sizes()));
  const int64_t n = z1.size(0);
  auto z = torch::cat({z1, z2}, 0);
  if (z.scalar_type() != torch::kDouble) z = z.to(torch::kFloat);  // double stays double (gradient checks)
  z = torch::nn::functional::normalize(z, torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto logits = torch::mm(z, z.t()) / temperature;
  // An anchor is never its own negative: -inf on the diagonal gives it zero
  // probability and zero gradient without a 2N x 2N mask tensor.
  logits.fill_diagonal_(-std::numeric_limits<double>::infinity());
  const auto index = torch::arange(2 * n, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  const auto targets = torch::remainder(index + n, 2 * n);
  NtXentOutput out;
  out.loss = torch::nn::functional::cross_entropy(logits, targets);
  {
    torch::NoGradGuard no_grad;
    out.top1 = logits.argmax(1).eq(targets).to(torch::kFloat).mean();
  }
  return out;
}

}  // namespace simclr::loss

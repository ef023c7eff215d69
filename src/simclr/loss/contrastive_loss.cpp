#include "simclr/loss/contrastive_loss.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include "simclr/core/error.h"

namespace simclr::loss {
namespace {

// Per-anchor losses of NT-Logistic and margin triplet, written with autograd.
NtXentOutput pairwise_loss(const torch::Tensor& z1, const torch::Tensor& z2, const config::LossConfig& c) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const int64_t n = z1.size(0), two_n = 2 * n;
  auto z = torch::cat({z1, z2}, 0);
  z = c.normalize ? normalize_projections(z) : (z.scalar_type() == torch::kDouble ? z : z.to(torch::kFloat));
  const auto s = torch::mm(z, z.t());
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(z.device());
  const auto partner = torch::remainder(torch::arange(two_n, options) + n, two_n);
  const auto positive = s.gather(1, partner.unsqueeze(1));  // [2N, 1]
  auto negative = torch::ones({two_n, two_n}, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  negative.fill_diagonal_(false);
  negative.scatter_(1, partner.unsqueeze(1), false);
  if (c.semi_hard) {
    const auto farther = negative & s.detach().lt(positive.detach());
    const auto has_any = farther.any(1, /*keepdim=*/true);
    negative = torch::where(has_any, farther, negative);
  }
  const auto weights = negative.to(s.scalar_type());
  const auto count = weights.sum(1);
  torch::Tensor per_anchor;
  if (c.name == "nt_logistic") {
    const double inv_t = 1.0 / c.temperature;
    const auto neg_terms = torch::log_sigmoid(-s * inv_t) * weights;
    per_anchor = -torch::log_sigmoid(positive.squeeze(1) * inv_t) - neg_terms.sum(1) / count;
  } else {
    const auto hinge = torch::relu(s - positive + c.margin) * weights;
    per_anchor = hinge.sum(1) / count;
  }
  NtXentOutput out;
  out.loss = per_anchor.mean();
  torch::NoGradGuard no_grad;
  auto others = s.clone();
  others.fill_diagonal_(-std::numeric_limits<double>::infinity());
  out.top1 = others.argmax(1).eq(partner).to(torch::kFloat).mean();
  return out;
}

}  // namespace

NtXentOutput contrastive_loss(const torch::Tensor& z1, const torch::Tensor& z2, const config::LossConfig& c) {
  SIMCLR_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes() && z1.size(0) >= 2,
               "contrastive loss expects two [N, d] tensors of equal shape with N >= 2, got {} and {}",
               c10::str(z1.sizes()), c10::str(z2.sizes()));
  if (c.name == "nt_xent") return nt_xent(z1, z2, c.temperature, c.normalize);
  SIMCLR_CHECK(c.name == "nt_logistic" || c.name == "margin",
               "loss.name '{}' is not a loss; choose nt_xent, nt_logistic or margin", c.name);
  return pairwise_loss(z1, z2, c);
}

}  // namespace simclr::loss

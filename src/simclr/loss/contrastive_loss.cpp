#include "simclr/loss/contrastive_loss.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <limits>

#include "simclr/core/error.h"

namespace simclr::loss {
namespace {

// s: [2N, 2N] similarities, positive: [2N, 1], weights: [2N, 2N] 1 for the
// negatives counted, count: their number per anchor -> [2N] losses.
using PerAnchor = torch::Tensor (*)(const torch::Tensor& s, const torch::Tensor& positive, const torch::Tensor& weights,
                                    const torch::Tensor& count, const LossOptions& c);

torch::Tensor nt_logistic_per_anchor(const torch::Tensor& s, const torch::Tensor& positive, const torch::Tensor& weights,
                                     const torch::Tensor& count, const LossOptions& c) {
  const double inv_t = 1.0 / temperature_of(c);
  const auto neg_terms = torch::log_sigmoid(-s * inv_t) * weights;
  return -torch::log_sigmoid(positive.squeeze(1) * inv_t) - neg_terms.sum(1) / count;
}

torch::Tensor margin_per_anchor(const torch::Tensor& s, const torch::Tensor& positive, const torch::Tensor& weights,
                                const torch::Tensor& count, const LossOptions& c) {
  return (torch::relu(s - positive + c.margin) * weights).sum(1) / count;
}

// DCL and DCLW: the positive leaves the denominator, which keeps only the
// negatives (a zero weight masks a column with -inf).
template <bool weighted>
torch::Tensor decoupled_per_anchor(const torch::Tensor& s, const torch::Tensor& positive, const torch::Tensor& weights,
                                   const torch::Tensor& /*count*/, const LossOptions& c) {
  const double inv_t = 1.0 / temperature_of(c);
  const auto negatives = (s * inv_t).masked_fill(weights.eq(0), -std::numeric_limits<double>::infinity());
  auto positive_term = positive.squeeze(1) * inv_t;
  if constexpr (weighted) {
    // Over the 2N anchors each positive similarity appears twice, so
    // 2N softmax over them equals the authors' N softmax over the N pairs.
    const auto two_n = static_cast<double>(positive.size(0));
    positive_term = positive_term * (2.0 - two_n * torch::softmax(positive.squeeze(1) / c.dcl_sigma, 0));
  }
  return torch::logsumexp(negatives, 1) - positive_term;
}

// The losses over pairs (NT-Logistic, margin triplet, DCL), written with autograd.
template <PerAnchor per_anchor_loss>
NtXentOutput pairwise_loss(const torch::Tensor& z1, const torch::Tensor& z2, const LossOptions& c) {
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
  const torch::Tensor per_anchor = per_anchor_loss(s, positive, weights, weights.sum(1), c);
  NtXentOutput out;
  out.loss = per_anchor.mean();
  torch::NoGradGuard no_grad;
  auto others = s.clone();
  others.fill_diagonal_(-std::numeric_limits<double>::infinity());
  out.top1 = others.argmax(1).eq(partner).to(torch::kFloat).mean();
  return out;
}

}  // namespace

NtXentOutput contrastive_loss(const torch::Tensor& z1, const torch::Tensor& z2, const LossOptions& c) {
  SIMCLR_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes() && z1.size(0) >= 2,
               "contrastive loss expects two [N, d] tensors of equal shape with N >= 2, got {} and {}",
               c10::str(z1.sizes()), c10::str(z2.sizes()));
  return losses().at(c.name, "loss.name").compute(z1, z2, c);
}

double temperature_of(const LossOptions& options) {
  SIMCLR_CHECK(options.temperature.has_value(),
               "loss.temperature is unset (auto): a run's recipe sets it (train/recipe.h); set it to use a loss "
               "on its own");
  return *options.temperature;
}

const Registry<LossEntry>& losses() {
  static const Registry<LossEntry> registry(
      "loss", {
                  {"nt_xent", "NT-Xent: softmax cross-entropy over temperature-scaled similarities (SimCLR)",
                   [](const torch::Tensor& z1, const torch::Tensor& z2, const LossOptions& c) {
                     return nt_xent(z1, z2, temperature_of(c), c.normalize);
                   }},
                  {"nt_logistic", "NT-Logistic: sigmoid of the scaled positive and negative similarities",
                   pairwise_loss<nt_logistic_per_anchor>},
                  {"margin", "margin triplet: max(s- - s+ + m, 0)", pairwise_loss<margin_per_anchor>},
                  {"dcl", "decoupled contrastive: NT-Xent without the positive in the denominator (Yeh et al. 2022)",
                   pairwise_loss<decoupled_per_anchor<false>>},
                  {"dclw", "DCL with the positive weighted by 2 - N softmax(s+/loss.dcl_sigma)",
                   pairwise_loss<decoupled_per_anchor<true>>},
              });
  return registry;
}

}  // namespace simclr::loss

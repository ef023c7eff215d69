#include "simclr/loss/nt_xent.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <limits>

#include "simclr/core/error.h"

namespace simclr::loss {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

void check_inputs(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  SIMCLR_CHECK(temperature > 0, "NT-Xent temperature must be positive, got {}", temperature);
  SIMCLR_CHECK(z1.dim() == 2 && z1.sizes() == z2.sizes() && z1.size(0) >= 1,
               "NT-Xent expects two [N, d] tensors of equal shape, got {} and {}", c10::str(z1.sizes()),
               c10::str(z2.sizes()));
}

// Both views stacked, in fp32 (double stays double for gradient checks) and
// L2-normalised. Autograd handles this part: it is O(N d).
torch::Tensor normalized_views(const torch::Tensor& z1, const torch::Tensor& z2) {
  return normalize_projections(torch::cat({z1, z2}, 0));
}

// Column of each anchor's partner view: rows [offset, offset + count) hold
// one rank's [view 1; view 2], so anchor i's partner is count/2 rows away.
torch::Tensor partner_index(int64_t offset, int64_t count, const torch::Device& device) {
  const auto index = torch::arange(count, torch::TensorOptions().dtype(torch::kLong).device(device));
  return torch::remainder(index + count / 2, count) + offset;
}

// The anchors-by-candidates part in one buffer. Anchors are the rows
// a = z[offset, offset + count) of the candidates z (all of z in a single
// process; this rank's rows of the gathered projections in a distributed
// one). Forward: S = a z^T / tau with -inf at each anchor's own column,
// turned in place into the softmax P = exp(S - lse) and kept for backward,
// where it becomes G = dL/dS = (P - onehot(partner)) / count, again in place.
// dL/dz = G^T a / tau, plus G z / tau on the anchor rows (for a single
// process, (G + G^T) z / tau). Autograd's composition of mm, fill,
// cross_entropy keeps about three such tensors alive (logits, log-softmax,
// its gradient); this keeps one, and makes fewer passes over it.
//
// Extra negatives m (a memory of earlier projections, no gradient) add
// columns: S = a [z; m]^T / tau, and dL/da gains G[:, m's columns] m / tau.
class NtXentFunction : public torch::autograd::Function<NtXentFunction> {
 public:
  // Returns {loss, top1}; top1 has no gradient.
  static tensor_list forward(AutogradContext* ctx, const torch::Tensor& z, double temperature, int64_t offset,
                             int64_t count, const c10::optional<torch::Tensor>& negatives) {
    // The similarities and the softmax stay in z's precision (fp32) even
    // inside an autocast region, where mm would otherwise run in bf16/fp16.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    const double inv_t = 1.0 / temperature;
    const auto anchors = z.narrow(0, offset, count);
    const auto columns = negatives ? torch::cat({z, negatives->detach().to(z.scalar_type())}, 0) : z;
    auto p = torch::mm(anchors, columns.t());
    p.mul_(inv_t);
    // An anchor is never its own negative: exp(-inf) = 0 gives it zero
    // probability and zero gradient without a mask tensor.
    p.narrow(1, offset, count).fill_diagonal_(-std::numeric_limits<double>::infinity());
    const auto partner = partner_index(offset, count, z.device());
    const auto positive = p.gather(1, partner.unsqueeze(1)).squeeze(1);
    const auto row_max = std::get<0>(p.max(1));
    p.sub_(row_max.unsqueeze(1)).exp_();
    const auto row_sum = p.sum(1);
    p.div_(row_sum.unsqueeze(1));
    const auto lse = row_max + row_sum.log();
    auto loss = (lse - positive).mean();
    // Ties with the partner count as hits; with real data they do not occur.
    auto top1 = positive.ge(row_max).to(torch::kFloat).mean();
    ctx->save_for_backward({z, p, partner, columns});
    ctx->saved_data["inv_t"] = inv_t;
    ctx->saved_data["offset"] = offset;
    ctx->mark_non_differentiable({top1});
    return {loss, top1};
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
    SIMCLR_CHECK(!ctx->saved_data.count("used"),
                 "NT-Xent's backward reuses its buffer in place and can run only once per forward");
    ctx->saved_data["used"] = true;
    const auto saved = ctx->get_saved_variables();
    const auto& z = saved[0];
    auto g = saved[1];  // the softmax P, turned into dL/dS below
    const auto& partner = saved[2];
    const auto& columns = saved[3];
    const double inv_t = ctx->saved_data["inv_t"].toDouble();
    const int64_t offset = ctx->saved_data["offset"].toInt(), count = g.size(0);
    g.scatter_add_(1, partner.unsqueeze(1), torch::full({count, 1}, -1.0, g.options()));
    const auto scale = grad_outputs[0].to(g.scalar_type()) * (inv_t / static_cast<double>(count));
    auto dz = torch::mm(g.narrow(1, 0, z.size(0)).t(), z.narrow(0, offset, count));
    dz.narrow(0, offset, count).addmm_(g, columns);
    dz.mul_(scale);
    return {dz, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// An undefined tensor is no argument at all for Function::apply (it would
// read its device): absent negatives travel as nullopt.
c10::optional<torch::Tensor> checked_negatives(const torch::Tensor& negatives, int64_t dim) {
  if (!negatives.defined()) return c10::nullopt;
  SIMCLR_CHECK(negatives.dim() == 2 && negatives.size(1) == dim, "NT-Xent's extra negatives must be [K, {}], got {}",
               dim, c10::str(negatives.sizes()));
  return negatives;
}

}  // namespace

NtXentOutput nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature, bool normalize,
                     const torch::Tensor& negatives) {
  check_inputs(z1, z2, temperature);
  const auto extra = checked_negatives(negatives, z1.size(1));
  auto z = normalize ? normalized_views(z1, z2) : torch::cat({z1, z2}, 0);
  if (z.scalar_type() != torch::kDouble) z = z.to(torch::kFloat);
  const auto out = NtXentFunction::apply(z, temperature, 0, 2 * z1.size(0), extra);
  return {out[0], out[1]};
}

torch::Tensor normalize_projections(const torch::Tensor& z) {
  const auto zf = z.scalar_type() == torch::kDouble ? z : z.to(torch::kFloat);
  return torch::nn::functional::normalize(zf, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

NtXentOutput nt_xent_anchors(const torch::Tensor& candidates, int64_t offset, int64_t count, double temperature,
                             const torch::Tensor& negatives) {
  SIMCLR_CHECK(temperature > 0, "NT-Xent temperature must be positive, got {}", temperature);
  SIMCLR_CHECK(candidates.dim() == 2 && count >= 2 && count % 2 == 0 && offset >= 0 &&
                   offset + count <= candidates.size(0),
               "NT-Xent anchors [{}, {}) must be an even number of rows of the {} candidates", offset, offset + count,
               c10::str(candidates.sizes()));
  const auto extra = checked_negatives(negatives, candidates.size(1));
  const auto out = NtXentFunction::apply(candidates, temperature, offset, count, extra);
  return {out[0], out[1]};
}

NtXentOutput nt_xent_reference(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  check_inputs(z1, z2, temperature);
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const int64_t n = z1.size(0);
  const auto z = normalized_views(z1, z2);
  auto logits = torch::mm(z, z.t()) / temperature;
  logits.fill_diagonal_(-std::numeric_limits<double>::infinity());
  const auto targets = partner_index(0, 2 * n, z.device());
  NtXentOutput out;
  out.loss = torch::nn::functional::cross_entropy(logits, targets);
  torch::NoGradGuard no_grad;
  out.top1 = logits.argmax(1).eq(targets).to(torch::kFloat).mean();
  return out;
}

}  // namespace simclr::loss

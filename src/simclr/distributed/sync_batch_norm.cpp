#include "simclr/distributed/sync_batch_norm.h"

#include "simclr/distributed/collectives.h"

namespace simclr::distributed {

torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNormState& bn, Communicator& comm) {
  TORCH_INTERNAL_ASSERT(x.dim() >= 2, "batch norm input needs [N, C, ...]");
  std::vector<int64_t> reduce_dims = {0};
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  for (int64_t d = 2; d < x.dim(); ++d) reduce_dims.push_back(d);
  const auto xf = x.scalar_type() == torch::kDouble ? x : x.to(torch::kFloat);
  const double count = static_cast<double>(x.numel() / x.size(1)) * comm.world_size();
  // Two passes (mean, then the mean square deviation) rather than E[x^2] -
  // E[x]^2, which cancels badly when |mean| >> std.
  const auto mean = all_reduce_sum(xf.sum(reduce_dims), comm) / count;
  const auto centered = xf - mean.view(shape);
  const auto var = all_reduce_sum(centered.square().sum(reduce_dims), comm) / count;
  auto scale = torch::rsqrt(var + bn.eps);
  if (bn.weight.defined()) scale = scale * bn.weight;
  auto y = centered * scale.view(shape);
  if (bn.bias.defined()) y = y + bn.bias.view(shape);

  if (bn.running_mean.defined()) {
    torch::NoGradGuard no_grad;
    double m = bn.momentum;
    if (bn.num_batches_tracked.defined()) {
      bn.num_batches_tracked.add_(1);
      if (m < 0) m = 1.0 / bn.num_batches_tracked.item<double>();
    }
    // The running variance is the unbiased estimate, as in torch.nn.BatchNorm.
    bn.running_mean.mul_(1 - m).add_(mean.detach().to(bn.running_mean.scalar_type()), m);
    bn.running_var.mul_(1 - m).add_(var.detach().to(bn.running_var.scalar_type()) * (count / std::max(1.0, count - 1)), m);
  }
  return y.to(x.scalar_type()).contiguous(x.suggest_memory_format());
}

}  // namespace simclr::distributed

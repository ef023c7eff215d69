#include "simclr/distributed/sync_batch_norm.h"

#include "simclr/distributed/collectives.h"

namespace simclr::distributed {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<int64_t> channel_shape(const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

void update_running_stats(BatchNormState& bn, const torch::Tensor& mean, const torch::Tensor& var, double count) {
  if (!bn.running_mean.defined()) return;
  torch::NoGradGuard no_grad;
  double m = bn.momentum;
  if (bn.num_batches_tracked.defined()) {
    bn.num_batches_tracked.add_(1);
    if (m < 0) m = 1.0 / bn.num_batches_tracked.item<double>();
  }
  // The running variance is the unbiased estimate, as in torch.nn.BatchNorm.
  bn.running_mean.mul_(1 - m).add_(mean.to(bn.running_mean.scalar_type()), m);
  bn.running_var.mul_(1 - m).add_(var.to(bn.running_var.scalar_type()) * (count / std::max(1.0, count - 1)), m);
}

// Forward: each rank's per-channel mean and biased variance in one pass
// (batch_norm_update_stats), combined over the ranks in double as
// E[x^2] - E[x]^2 of the per-rank moments (exact for equal counts, and the
// cancellation happens in double), then LibTorch's own normalisation kernel
// with the global statistics in place of running ones.
//
// Backward, with g = dL/dy summed over every rank's loss and N the global
// count (the batch-norm backward over the union of the ranks' batches):
//   dbias = sum g,  dweight = sum g * xhat        (this rank's part; the
//                                                   gradient all-reduce adds them)
//   dx = w / std * (g - mean_all(g) - xhat * mean_all(g * xhat))
// The local sums come from LibTorch's inference-mode backward kernel; one
// all-reduce makes them global; dx is then g * (w / std) - (a + b * x)
// with per-channel a, b, the affine part done by the batch-norm kernel again.
class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, int64_t comm_handle, BatchNormState* bn) {
    auto& comm = *reinterpret_cast<Communicator*>(comm_handle);
    const auto stats = torch::batch_norm_update_stats(x, {}, {}, 0.0);
    const auto mean_local = std::get<0>(stats).to(torch::kDouble);
    const auto var_local = std::get<1>(stats).to(torch::kDouble);
    auto moments = torch::cat({mean_local, var_local + mean_local.square()});
    comm.all_reduce_(moments);
    moments.div_(comm.world_size());
    const int64_t c = x.size(1);
    const auto stat_type = x.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    const auto mean = moments.narrow(0, 0, c);
    const auto var = (moments.narrow(0, c, c) - mean.square()).clamp_min(0);
    const auto mean_s = mean.to(stat_type), var_s = var.to(stat_type);
    const double count = static_cast<double>(x.numel() / c) * comm.world_size();
    update_running_stats(*bn, mean_s, var_s, count);
    auto y = torch::batch_norm(x, weight, bias, mean_s, var_s, false, 0.0, bn->eps, true);
    ctx->save_for_backward({x, weight, mean_s, var_s});
    ctx->saved_data["comm"] = comm_handle;
    ctx->saved_data["eps"] = bn->eps;
    ctx->saved_data["count"] = count;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &weight = saved[1], &mean = saved[2], &var = saved[3];
    auto& comm = *reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    const double eps = ctx->saved_data["eps"].toDouble(), count = ctx->saved_data["count"].toDouble();
    const auto g = grad_outputs[0].contiguous(x.suggest_memory_format());
    const auto invstd = torch::rsqrt(var + eps);
    // Inference-mode backward: dweight = sum g * (x - mean) * invstd, dbias = sum g.
    const auto local = torch::native_batch_norm_backward(g, x, weight, mean, var, {}, {}, false, eps,
                                                         {false, true, true});
    const auto dweight = std::get<1>(local), dbias = std::get<2>(local);
    auto sums = torch::cat({dbias, dweight}).to(torch::kDouble);
    comm.all_reduce_(sums);
    const int64_t c = x.size(1);
    const auto mean_g = sums.narrow(0, 0, c) / count;          // mean_all(g)
    const auto mean_g_xhat = sums.narrow(0, c, c) / count;     // mean_all(g * xhat)
    const auto w_invstd = (weight.to(torch::kDouble) * invstd.to(torch::kDouble));
    const auto inv = invstd.to(torch::kDouble);
    // w/std * (mean_g + (x - mean) * inv * mean_g_xhat) = a + b * x
    const auto b = w_invstd * inv * mean_g_xhat;
    const auto a = w_invstd * mean_g - b * mean.to(torch::kDouble);
    const auto stat_type = mean.scalar_type();
    // -(a + b x) through the batch-norm kernel (mean 0, var 1 - eps), then + g * w/std.
    auto dx = torch::batch_norm(x, (-b).to(stat_type), (-a).to(stat_type), torch::zeros_like(mean),
                                torch::full_like(var, 1.0 - eps), false, 0.0, eps, true);
    // (addcmul_ takes no mixed dtypes: for bf16 the factor is rounded to bf16 too.)
    dx.addcmul_(g, w_invstd.to(dx.scalar_type()).view(channel_shape(x)));
    return {dx, dweight, dbias, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNormState& bn, Communicator& comm) {
  TORCH_INTERNAL_ASSERT(x.dim() >= 2 && bn.weight.defined() && bn.bias.defined(),
                        "sync_batch_norm needs [N, C, ...] input and affine parameters");
  return SyncBatchNormFunction::apply(x, bn.weight, bn.bias, reinterpret_cast<int64_t>(&comm), &bn);
}

torch::Tensor sync_batch_norm_reference(const torch::Tensor& x, BatchNormState& bn, Communicator& comm) {
  TORCH_INTERNAL_ASSERT(x.dim() >= 2, "batch norm input needs [N, C, ...]");
  std::vector<int64_t> reduce_dims = {0};
  const auto shape = channel_shape(x);
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

  update_running_stats(bn, mean.detach(), var.detach(), count);
  return y.to(x.scalar_type()).contiguous(x.suggest_memory_format());
}

}  // namespace simclr::distributed

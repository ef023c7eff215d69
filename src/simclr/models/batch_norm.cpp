#include "simclr/models/batch_norm.h"

#include "simclr/distributed/sync_batch_norm.h"

namespace simclr::models {

BatchNormImpl::BatchNormImpl(const BatchNormOptions& options_) : options(options_) { reset(); }

void BatchNormImpl::reset() {
  const int64_t c = options.num_features();
  weight = register_parameter("weight", torch::ones({c}));
  bias = register_parameter("bias", torch::zeros({c}));
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() >= 2 && x.size(1) == options.num_features(), "BatchNorm(", options.num_features(),
              ") got an input of shape ", x.sizes());
  if (!is_training()) {
    return torch::batch_norm(x, weight, bias, running_mean, running_var, false, 0.0, options.eps(), true);
  }
  if (group_) {
    distributed::BatchNormState state{weight, bias, running_mean, running_var, num_batches_tracked,
                                      options.momentum(), options.eps()};
    return distributed::sync_batch_norm(x, state, *group_);
  }
  {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return torch::batch_norm(x, weight, bias, running_mean, running_var, true, options.momentum(), options.eps(),
                           true);
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "simclr::BatchNorm(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum() << (group_ ? ", global" : "") << ")";
}

int set_batch_norm_sync(torch::nn::Module& module, std::shared_ptr<distributed::Communicator> group) {
  int n = 0;
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* bn = m->as<BatchNormImpl>()) {
      bn->set_sync_group(group);
      ++n;
    }
  }
  return n;
}

}  // namespace simclr::models

#include "simclr/models/projection_head.h"

#include "simclr/core/error.h"
#include "simclr/models/batch_norm.h"

namespace simclr::models {
namespace nn = torch::nn;

ProjectionHeadImpl::ProjectionHeadImpl(const ProjectionHeadOptions& o) {
  SIMCLR_CHECK(o.layers() >= 0, "projection head layers must not be negative, got {}", o.layers());
  const int64_t hidden = o.hidden_dim() > 0 ? o.hidden_dim() : o.in_dim();
  mlp = nn::Sequential();
  int64_t dim = o.in_dim();
  for (int64_t i = 0; i + 1 < o.layers(); ++i) {
    // No bias before BN: BN's shift makes it redundant (as in the official code).
    mlp->push_back(nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
    mlp->push_back(BatchNorm(hidden));
    mlp->push_back(nn::ReLU());
    dim = hidden;
  }
  if (o.layers() >= 1) mlp->push_back(nn::Linear(dim, o.out_dim()));
  register_module("mlp", mlp);
  layers_ = o.layers();
  in_dim_ = o.in_dim();
  hidden_dim_ = hidden;
  out_dim_ = o.layers() >= 1 ? o.out_dim() : o.in_dim();
}

torch::Tensor ProjectionHeadImpl::forward_to(const torch::Tensor& h, int64_t blocks) {
  TORCH_INTERNAL_ASSERT(blocks >= 0 && blocks <= layers_);
  if (blocks == layers_) return forward(h);
  torch::Tensor x = h;
  for (int64_t b = 0; b < blocks; ++b) {  // each hidden block is mlp[3b..3b+2]: Linear, BatchNorm1d, ReLU
    x = mlp[static_cast<size_t>(3 * b)]->as<nn::Linear>()->forward(x);
    x = mlp[static_cast<size_t>(3 * b + 1)]->as<BatchNormImpl>()->forward(x);
    x = torch::relu(x);
  }
  return x;
}

std::vector<torch::Tensor> ProjectionHeadImpl::block_parameters(int64_t blocks) {
  TORCH_INTERNAL_ASSERT(blocks >= 0 && blocks < layers_);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < 3 * blocks; ++i) {
    for (const auto& p : mlp[static_cast<size_t>(i)]->parameters()) out.push_back(p);
  }
  return out;
}

int64_t ProjectionHeadImpl::output_dim(int64_t blocks) const {
  return blocks == 0 ? in_dim_ : blocks == layers_ ? out_dim_ : hidden_dim_;
}

int64_t ProjectionHeadImpl::forward_flops() const {
  if (layers_ == 0) return 0;
  int64_t flops = 0, dim = in_dim_;
  for (int64_t i = 0; i + 1 < layers_; ++i) {
    flops += 2 * dim * hidden_dim_;
    dim = hidden_dim_;
  }
  return flops + 2 * dim * out_dim_;
}

}  // namespace simclr::models

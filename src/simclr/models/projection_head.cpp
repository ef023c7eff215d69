#include "simclr/models/projection_head.h"

#include "simclr/core/error.h"

namespace simclr::models {
namespace nn = torch::nn;

ProjectionHeadImpl::ProjectionHeadImpl(const ProjectionHeadOptions& o) {
  SIMCLR_CHECK(o.layers() >= 1, "projection head needs at least 1 layer, got {}", o.layers());
  const int64_t hidden = o.hidden_dim() > 0 ? o.hidden_dim() : o.in_dim();
  mlp = nn::Sequential();
  int64_t dim = o.in_dim();
  for (int64_t i = 0; i + 1 < o.layers(); ++i) {
    // No bias before BN: BN's shift makes it redundant (as in the official code).
    mlp->push_back(nn::Linear(nn::LinearOptions(dim, hidden).bias(false)));
    mlp->push_back(nn::BatchNorm1d(hidden));
    mlp->push_back(nn::ReLU());
    dim = hidden;
  }
  mlp->push_back(nn::Linear(dim, o.out_dim()));
  register_module("mlp", mlp);
}

}  // namespace simclr::models

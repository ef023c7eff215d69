// The projection head g: h -> z (paper section 2.1). With `layers` = L:
// (L-1) x [Linear(no bias) - BatchNorm1d - ReLU] then Linear(hidden, out).
// L = 2 is SimCLR v1 (Linear-BN-ReLU-Linear), L = 3 is v2, L = 1 is the
// paper's "linear projection" ablation and L = 0 its "no projection" (z = h).
#pragma once
#include <torch/torch.h>

namespace simclr::models {

struct ProjectionHeadOptions {
  ProjectionHeadOptions(int64_t in_dim) : in_dim_(in_dim) {}
  TORCH_ARG(int64_t, in_dim);
  TORCH_ARG(int64_t, hidden_dim) = 0;  // 0 = in_dim
  TORCH_ARG(int64_t, out_dim) = 128;
  TORCH_ARG(int64_t, layers) = 2;
};

class ProjectionHeadImpl : public torch::nn::Module {
 public:
  explicit ProjectionHeadImpl(const ProjectionHeadOptions& options);
  // No layers (the paper's "no projection" ablation): z = h.
  torch::Tensor forward(const torch::Tensor& h) { return layers_ == 0 ? h : mlp->forward(h); }
  // The output after the first `blocks` hidden blocks (Linear-BN-ReLU):
  // 0 is h itself, layers()-1 the last hidden layer (SimCLRv2 fine-tunes
  // from the first), layers() is z.
  torch::Tensor forward_to(const torch::Tensor& h, int64_t blocks);
  int64_t layers() const { return layers_; }
  int64_t output_dim(int64_t blocks) const;
  // FLOPs (2 x multiply-adds) of the linear layers for one sample.
  int64_t forward_flops() const;
  // The parameters forward_to(h, blocks) uses.
  std::vector<torch::Tensor> block_parameters(int64_t blocks);

 private:
  // Registered as "mlp": names are mlp.0 (Linear), mlp.1 (BN), mlp.2 (ReLU), ...
  torch::nn::Sequential mlp{nullptr};
  int64_t layers_ = 0, in_dim_ = 0, hidden_dim_ = 0, out_dim_ = 0;
};
TORCH_MODULE(ProjectionHead);

}  // namespace simclr::models

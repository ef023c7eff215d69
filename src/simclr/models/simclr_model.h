// The SimCLR network: encoder f (any models::Encoder) and projection head g.
// forward(x) returns h = f(x) and z = g(h); after pretraining only f is kept.
#pragma once
#include <torch/torch.h>

#include "simclr/models/encoder.h"
#include "simclr/models/model_options.h"
#include "simclr/models/projection_head.h"

namespace simclr::models {

struct Views {
  torch::Tensor h, z;
};

class SimclrModelImpl : public torch::nn::Module {
 public:
  SimclrModelImpl(Encoder encoder, const ProjectionHeadOptions& head_options);
  Views forward(const torch::Tensor& x);

  Encoder encoder{nullptr};
  ProjectionHead head{nullptr};
};
TORCH_MODULE(SimclrModel);

// Builds the model that `options` describes for images with `channels`
// channels and side `image_side` (which picks the ResNet stem when
// model.stem=auto and the ViT's positions).
SimclrModel build_model(const ModelOptions& options, int64_t channels, int64_t image_side);

// Converts convolution weights to channels-last, in place (faster oneDNN
// kernels on CPU). Parameters keep their identity, so optimizers stay valid.
void to_channels_last(torch::nn::Module& module);

}  // namespace simclr::models

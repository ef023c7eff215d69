// The SimCLR network: encoder f (ResNet) and projection head g.
// forward(x) returns h = f(x) and z = g(h); after pretraining only f is kept.
#pragma once
#include <torch/torch.h>

#include "simclr/config/config.h"
#include "simclr/models/projection_head.h"
#include "simclr/models/resnet.h"

namespace simclr::models {

struct Views {
  torch::Tensor h, z;
};

class SimclrModelImpl : public torch::nn::Module {
 public:
  SimclrModelImpl(const ResNetOptions& encoder_options, const ProjectionHeadOptions& head_options);
  Views forward(const torch::Tensor& x);

  ResNet encoder{nullptr};
  ProjectionHead head{nullptr};
};
TORCH_MODULE(SimclrModel);

// Builds the model that `config` describes for images with `channels`
// channels and side `image_side` (which picks the stem when model.stem=auto).
SimclrModel build_model(const config::ModelConfig& config, int64_t channels, int64_t image_side);

// Converts convolution weights to channels-last, in place (faster oneDNN
// kernels on CPU). Parameters keep their identity, so optimizers stay valid.
void to_channels_last(torch::nn::Module& module);

}  // namespace simclr::models

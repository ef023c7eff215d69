// ResNet-18/34/50 (He et al. 2016) as the SimCLR encoder f: image -> h, the
// global-average-pooled output of the last stage (the classifier is absent).
// Parameter names match torchvision.models.resnet (conv1, bn1,
// layer1.0.conv1, layer2.0.downsample.0, ...) so weights move between the two.
// `width` is the channel count of the first stage (64 = standard ResNet);
// the CIFAR stem (3x3 stride-1 conv, no max-pool) is SimCLR's choice for small
// images (paper appendix B.9).
#pragma once
#include <torch/torch.h>

#include <string>

#include "simclr/models/batch_norm.h"
#include "simclr/models/encoder.h"

namespace simclr::models {

struct ResNetOptions {
  ResNetOptions(std::string arch) : arch_(std::move(arch)) {}
  TORCH_ARG(std::string, arch);       // resnet18 | resnet34 | resnet50
  TORCH_ARG(int64_t, width) = 64;     // first-stage channels
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(bool, cifar_stem) = false;
  TORCH_ARG(int64_t, image_size) = 224;  // the training side (any other works too)
};

class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  // Convolution FLOPs (2 x multiply-adds) for one side x side input; `side`
  // becomes the output side.
  int64_t forward_flops(int64_t& side) const;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t forward_flops(int64_t& side) const;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public EncoderImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  // x: [N, in_channels, H, W] -> h: [N, feature_dim()]
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return feature_dim_; }
  // Convolutions only: batch norm, ReLU and pooling are memory-bound.
  int64_t forward_flops(int64_t side) const override;
  nlohmann::json describe() const override;
  std::string summary() const override;
  std::string shape_options() const override { return "--arch, --width and --model.stem"; }
  std::vector<std::string> stages() const override { return {"conv1", "bn1", "layer1", "layer2", "layer3", "layer4"}; }
  std::vector<std::string> classifier_prefixes() const override { return {"fc."}; }
  const ResNetOptions& options() const { return options_; }

 private:
  ResNetOptions options_;
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace simclr::models

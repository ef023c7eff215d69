#include "simclr/models/resnet.h"

#include <array>

#include "simclr/core/error.h"
#include "simclr/core/torch_compat.h"
#include "simclr/models/conv2d.h"

namespace simclr::models {
namespace nn = torch::nn;
namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return nn::Sequential(conv(in, out, 1, stride, 0), BatchNorm(out));
}

std::array<int64_t, 4> blocks_of(const std::string& arch) {
  if (arch == "resnet18") return {2, 2, 2, 2};
  if (arch == "resnet34" || arch == "resnet50") return {3, 4, 6, 3};
  throw Error(fmt::format("unknown architecture '{}'; choose one of: resnet18, resnet34, resnet50", arch));
}

template <class Block>
nn::Sequential make_stage(int64_t& in_planes, int64_t planes, int64_t blocks, int64_t stride) {
  nn::Sequential stage;
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(Block(in_planes, planes, i == 0 ? stride : 1));
    in_planes = planes * Block::Impl::kExpansion;
  }
  return stage;
}

// conv(x), through models::conv2d so training may take its faster backward route.
torch::Tensor run_conv(const nn::Conv2d& c, const torch::Tensor& x) {
  const auto& o = c->options;
  return conv2d(x, c->weight, (*o.stride())[0], (*compat::get<torch::ExpandingArray<2>>(o.padding()))[0]);
}

// The block's shortcut: its input, or the 1x1 convolution + batch norm.
torch::Tensor apply_shortcut(const nn::Sequential& downsample, const torch::Tensor& x) {
  if (!downsample) return x;
  return downsample->ptr<BatchNormImpl>(1)->forward(run_conv(nn::Conv2d(downsample->ptr<nn::Conv2dImpl>(0)), x));
}

// 2 x multiply-adds of convolution `c` on a side x side input; advances side.
int64_t conv_flops(const nn::Conv2d& c, int64_t& side) {
  const auto& o = c->options;
  const int64_t k = (*o.kernel_size())[0], stride = (*o.stride())[0];
  const int64_t pad = (*compat::get<torch::ExpandingArray<2>>(o.padding()))[0];
  side = (side + 2 * pad - k) / stride + 1;
  return 2 * o.in_channels() * o.out_channels() * k * k * side * side;
}

// The 1x1 projection shortcut, if the block has one, on the block's input.
int64_t downsample_flops(const nn::Sequential& downsample, int64_t side) {
  return downsample ? conv_flops(nn::Conv2d(downsample->ptr<nn::Conv2dImpl>(0)), side) : 0;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  conv1 = register_module("conv1", conv(in_planes, planes, 3, stride, 1));
  bn1 = register_module("bn1", BatchNorm(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", BatchNorm(planes));
  downsample = make_downsample(in_planes, planes * kExpansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  // In place where autograd allows it, as torchvision does: batch norm's
  // backward needs its input, not its output, so ReLU and the residual add
  // may overwrite the output and save a pass over memory each.
  auto out = bn1(run_conv(conv1, x)).relu_();
  out = bn2(run_conv(conv2, out));
  out += apply_shortcut(downsample, x);
  return torch::relu_(out);
}

int64_t BasicBlockImpl::forward_flops(int64_t& side) const {
  const int64_t shortcut = downsample_flops(downsample, side);
  const int64_t main_path = conv_flops(conv1, side) + conv_flops(conv2, side);
  return main_path + shortcut;
}

BottleneckImpl::BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride) {
  // torchvision's v1.5 bottleneck: the stride sits on the 3x3 convolution.
  conv1 = register_module("conv1", conv(in_planes, planes, 1, 1, 0));
  bn1 = register_module("bn1", BatchNorm(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, stride, 1));
  bn2 = register_module("bn2", BatchNorm(planes));
  conv3 = register_module("conv3", conv(planes, planes * kExpansion, 1, 1, 0));
  bn3 = register_module("bn3", BatchNorm(planes * kExpansion));
  downsample = make_downsample(in_planes, planes * kExpansion, stride);
  if (downsample) register_module("downsample", downsample);
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = bn1(run_conv(conv1, x)).relu_();
  out = bn2(run_conv(conv2, out)).relu_();
  out = bn3(run_conv(conv3, out));
  out += apply_shortcut(downsample, x);
  return torch::relu_(out);
}

int64_t BottleneckImpl::forward_flops(int64_t& side) const {
  const int64_t shortcut = downsample_flops(downsample, side);
  const int64_t main_path = conv_flops(conv1, side) + conv_flops(conv2, side) + conv_flops(conv3, side);
  return main_path + shortcut;
}

ResNetImpl::ResNetImpl(const ResNetOptions& options)
    : EncoderImpl({options.in_channels(), options.image_size()}), options_(options) {
  const auto blocks = blocks_of(options.arch());
  const int64_t w = options.width();
  SIMCLR_CHECK(w >= 1, "model width must be at least 1, got {}", w);
  SIMCLR_CHECK(options.in_channels() >= 1, "input channels must be at least 1, got {}", options.in_channels());
  conv1 = register_module("conv1", options.cifar_stem() ? conv(options.in_channels(), w, 3, 1, 1)
                                                        : conv(options.in_channels(), w, 7, 2, 3));
  bn1 = register_module("bn1", BatchNorm(w));
  int64_t in_planes = w;
  const bool bottleneck = options.arch() == "resnet50";
  const std::array<int64_t, 4> planes = {w, 2 * w, 4 * w, 8 * w};
  std::array<nn::Sequential*, 4> layers = {&layer1, &layer2, &layer3, &layer4};
  for (int i = 0; i < 4; ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    *layers[i] = bottleneck ? make_stage<Bottleneck>(in_planes, planes[i], blocks[i], stride)
                            : make_stage<BasicBlock>(in_planes, planes[i], blocks[i], stride);
    register_module("layer" + std::to_string(i + 1), *layers[i]);
  }
  feature_dim_ = in_planes;

  // torchvision's initialisation: Kaiming normal (fan_out, ReLU) for convs,
  // BN weight 1 and bias 0.
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<BatchNorm>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = bn1(run_conv(conv1, x)).relu_();
  if (!options_.cifar_stem()) x = torch::max_pool2d(x, 3, 2, 1);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

int64_t ResNetImpl::forward_flops(int64_t side) const {
  int64_t flops = conv_flops(conv1, side);
  if (!options_.cifar_stem()) side = (side + 2 - 3) / 2 + 1;  // the 3x3 stride-2 max-pool
  for (const auto* layer : {&layer1, &layer2, &layer3, &layer4}) {
    for (const auto& block : (*layer)->children()) {
      if (const auto* b = block->as<BasicBlockImpl>()) flops += b->forward_flops(side);
      else flops += block->as<BottleneckImpl>()->forward_flops(side);
    }
  }
  return flops;
}

nlohmann::json ResNetImpl::describe() const {
  return {{"arch", options_.arch()}, {"width", options_.width()}, {"stem", options_.cifar_stem() ? "cifar" : "imagenet"}};
}

std::string ResNetImpl::summary() const {
  return fmt::format("{} width {}, {} stem", options_.arch(), options_.width(),
                     options_.cifar_stem() ? "cifar" : "imagenet");
}

}  // namespace simclr::models

// The encoder f: image -> h, whichever network it is. Everything above the
// models layer (the SimCLR model, evaluation, weight import, checkpoints,
// the TorchScript export, the throughput model) works through this
// interface, so a new encoder family is one file plus one line in
// models/encoders.cpp.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "simclr/core/registry.h"
#include "simclr/models/model_options.h"

namespace simclr::models {

// The images an encoder is built for: float NCHW in [0, 1].
struct EncoderInput {
  int64_t channels = 3;
  int64_t side = 32;  // the training side: a ResNet takes any other, a ViT only this one
};

class EncoderImpl : public torch::nn::Module {
 public:
  // x: [N, input().channels, H, W] -> h: [N, feature_dim()]. Must be
  // traceable (torch::jit::tracer): no shape read from x may decide a
  // tensor's size, since the export records the operations, not the C++.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t feature_dim() const = 0;
  // FLOPs (2 x multiply-adds) of the matrix products and convolutions in one
  // forward pass of one side x side image: the GEMM-bound work of a step.
  virtual int64_t forward_flops(int64_t side) const = 0;
  // The architecture as saved with exports and shown by `simclr info`:
  // {"arch": ..., and the keys that fix its shape}.
  virtual nlohmann::json describe() const = 0;
  // One line for logs and messages: "resnet18 width 32, cifar stem".
  virtual std::string summary() const = 0;
  // The options that must match to load another network's weights
  // ("--arch, --width and --model.stem"), for the import error.
  virtual std::string shape_options() const = 0;
  // Its top-level stages in forward order, by parameter-name prefix
  // ("conv1", "layer1", ...; "conv_proj", "encoder.layers.encoder_layer_0",
  // ...): where fine-tuning and feature extraction can address a layer.
  virtual std::vector<std::string> stages() const = 0;
  // Tensor-name prefixes of the torchvision classifier that weight import
  // skips ("fc." for ResNets, "heads." for ViTs).
  virtual std::vector<std::string> classifier_prefixes() const = 0;
  const EncoderInput& input() const { return input_; }

 protected:
  explicit EncoderImpl(EncoderInput input) : input_(input) {}

 private:
  EncoderInput input_;
};
// TORCH_MODULE(Encoder) would inherit constructors that build an
// EncoderImpl, which is abstract: the holder is written out instead. It
// holds any encoder (Encoder(ResNet(...).ptr())) or nothing (nullptr).
class Encoder : public torch::nn::ModuleHolder<EncoderImpl> {
 public:
  using Impl = EncoderImpl;
  /* implicit */ Encoder(std::nullptr_t) : ModuleHolder(nullptr) {}
  /* implicit */ Encoder(std::shared_ptr<EncoderImpl> impl) : ModuleHolder(std::move(impl)) {}
};

// The encoder families, by model.arch.
struct EncoderEntry {
  std::string name;
  std::string help;
  std::function<Encoder(const ModelOptions&, const EncoderInput&)> make;
};
const Registry<EncoderEntry>& encoders();

// The encoder `options.arch` names, for images described by `input`.
Encoder make_encoder(const ModelOptions& options, const EncoderInput& input);

}  // namespace simclr::models

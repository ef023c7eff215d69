#include "simclr/models/vision_transformer.h"

#include <cmath>

#include "simclr/core/error.h"

namespace simclr::models {
namespace nn = torch::nn;

SelfAttentionImpl::SelfAttentionImpl(int64_t dim, int64_t heads) : heads_(heads), head_dim_(dim / heads) {
  SIMCLR_CHECK(heads >= 1 && dim % heads == 0, "ViT width {} does not split into {} attention heads", dim, heads);
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj = register_module("out_proj", nn::Linear(dim, dim));
  // nn.MultiheadAttention._reset_parameters.
  torch::NoGradGuard no_grad;
  nn::init::xavier_uniform_(in_proj_weight);
  nn::init::zeros_(out_proj->bias);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  // [N, L, 3D] -> q, k, v as [N, heads, L, head_dim]; only constants shape it.
  const auto qkv = torch::linear(x, in_proj_weight, in_proj_bias).unflatten(-1, {3, heads_, head_dim_});
  const auto q = qkv.select(-3, 0).transpose(1, 2), k = qkv.select(-3, 1).transpose(1, 2),
             v = qkv.select(-3, 2).transpose(1, 2);
  const auto attention = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(head_dim_)), -1);
  return out_proj(torch::matmul(attention, v).transpose(1, 2).flatten(2));
}

EncoderBlockImpl::EncoderBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim) {
  ln_1 = register_module("ln_1", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)));
  self_attention = register_module("self_attention", SelfAttention(dim, heads));
  ln_2 = register_module("ln_2", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)));
  mlp = register_module("mlp", nn::Sequential(nn::Linear(dim, mlp_dim), nn::GELU(), nn::Dropout(0.0),
                                              nn::Linear(mlp_dim, dim), nn::Dropout(0.0)));
  // torchvision's MLPBlock: Xavier-uniform weights, biases N(0, 1e-6).
  torch::NoGradGuard no_grad;
  for (auto& m : mlp->children()) {
    if (auto* lin = m->as<nn::Linear>()) {
      nn::init::xavier_uniform_(lin->weight);
      nn::init::normal_(lin->bias, 0.0, 1e-6);
    }
  }
}

torch::Tensor EncoderBlockImpl::forward(torch::Tensor x) {
  x = x + self_attention(ln_1(x));
  return x + mlp->forward(ln_2(x));
}

VisionTransformerImpl::VisionTransformerImpl(const VisionTransformerOptions& o)
    : EncoderImpl({o.in_channels(), o.image_size()}), options_(o) {
  SIMCLR_CHECK(o.patch_size() >= 1 && o.image_size() % o.patch_size() == 0,
               "{}: the image side {} is not a multiple of the patch side {} (model.patch_size); choose a patch side "
               "that divides it, or set augment.image_size",
               o.arch(), o.image_size(), o.patch_size());
  const int64_t d = o.hidden_dim(), grid = o.image_size() / o.patch_size();
  class_token = register_parameter("class_token", torch::zeros({1, 1, d}));
  conv_proj = register_module(
      "conv_proj", nn::Conv2d(nn::Conv2dOptions(o.in_channels(), d, o.patch_size()).stride(o.patch_size())));
  encoder_ = register_module("encoder", std::make_shared<nn::Module>());
  pos_embedding = encoder_->register_parameter("pos_embedding", torch::empty({1, grid * grid + 1, d}));
  auto layers = encoder_->register_module("layers", std::make_shared<nn::Module>());
  for (int64_t i = 0; i < o.layers(); ++i) {
    blocks_.push_back(layers->register_module("encoder_layer_" + std::to_string(i),
                                              EncoderBlock(d, o.heads(), o.mlp_dim())));
  }
  ln = encoder_->register_module("ln", nn::LayerNorm(nn::LayerNormOptions({d}).eps(1e-6)));
  // torchvision's initialisation of the patch embedding and positions.
  torch::NoGradGuard no_grad;
  const double fan_in = static_cast<double>(o.in_channels() * o.patch_size() * o.patch_size());
  nn::init::normal_(conv_proj->weight, 0.0, std::sqrt(1.0 / fan_in)).clamp_(-2.0, 2.0);
  nn::init::zeros_(conv_proj->bias);
  nn::init::normal_(pos_embedding, 0.0, 0.02);
}

torch::Tensor VisionTransformerImpl::forward(torch::Tensor x) {
  x = conv_proj(x).flatten(2).transpose(1, 2);  // [N, tokens, D]
  // The class token expands to the batch through expand_as, which the
  // tracer records, where a batch size read in C++ would be frozen in.
  x = torch::cat({class_token.expand_as(x.narrow(1, 0, 1)), x}, 1) + pos_embedding;
  for (auto& block : blocks_) x = block(x);
  return ln(x).select(1, 0);
}

int64_t VisionTransformerImpl::forward_flops(int64_t side) const {
  const int64_t d = options_.hidden_dim(), p = options_.patch_size(), grid = side / p, tokens = grid * grid + 1;
  const int64_t patch = 2 * grid * grid * d * options_.in_channels() * p * p;
  const int64_t per_layer = 2 * tokens * d * 3 * d         // q, k, v
                            + 2 * 2 * tokens * tokens * d  // q k^T and attention x v
                            + 2 * tokens * d * d            // out_proj
                            + 2 * 2 * tokens * d * options_.mlp_dim();
  return patch + options_.layers() * per_layer;
}

nlohmann::json VisionTransformerImpl::describe() const {
  const auto& o = options_;
  return {{"arch", o.arch()},           {"patch_size", o.patch_size()}, {"image_size", o.image_size()},
          {"layers", o.layers()},       {"heads", o.heads()},           {"hidden_dim", o.hidden_dim()},
          {"mlp_dim", o.mlp_dim()}};
}

std::string VisionTransformerImpl::summary() const {
  const auto& o = options_;
  return fmt::format("{} ({} layers, width {}, {} heads), {}x{} patches of {}x{} images", o.arch(), o.layers(),
                     o.hidden_dim(), o.heads(), o.patch_size(), o.patch_size(), o.image_size(), o.image_size());
}

std::vector<std::string> VisionTransformerImpl::stages() const {
  std::vector<std::string> out = {"class_token", "conv_proj", "encoder.pos_embedding"};
  for (int64_t i = 0; i < options_.layers(); ++i) out.push_back("encoder.layers.encoder_layer_" + std::to_string(i));
  out.push_back("encoder.ln");
  return out;
}

}  // namespace simclr::models

// The Vision Transformer (Dosovitskiy et al. 2021) as a SimCLR encoder:
// h is the final layer-normed class token (torchvision's VisionTransformer
// without its `heads` classifier). Parameter names are torchvision's
// (class_token, conv_proj, encoder.pos_embedding,
// encoder.layers.encoder_layer_0.self_attention.in_proj_weight, ...,
// encoder.ln), so `model.init_weights` takes a torchvision ViT state dict.
// The patch side is a parameter: 4 px patches give 32 px CIFAR images an
// 8 x 8 grid, as DeiT-style small-image ViTs use.
#pragma once
#include <torch/torch.h>

#include <string>

#include "simclr/models/encoder.h"

namespace simclr::models {

struct VisionTransformerOptions {
  VisionTransformerOptions(int64_t image_size, int64_t patch_size) : image_size_(image_size), patch_size_(patch_size) {}
  TORCH_ARG(int64_t, image_size);
  TORCH_ARG(int64_t, patch_size);
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(int64_t, layers) = 12;
  TORCH_ARG(int64_t, heads) = 3;
  TORCH_ARG(int64_t, hidden_dim) = 192;
  TORCH_ARG(int64_t, mlp_dim) = 768;
  TORCH_ARG(std::string, arch) = "vit_tiny";  // the name it is saved and shown under
};

// torchvision's nn.MultiheadAttention parameters (in_proj_weight,
// in_proj_bias, out_proj), self-attention only, written out so that the
// batch size is never read in C++ (the export traces this code).
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t dim, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);  // [N, L, D] -> [N, L, D]

 private:
  int64_t heads_, head_dim_;
  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

// Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention self_attention{nullptr};
  torch::nn::Sequential mlp{nullptr};  // mlp.0 Linear, GELU, Dropout, mlp.3 Linear, Dropout
};
TORCH_MODULE(EncoderBlock);

class VisionTransformerImpl : public EncoderImpl {
 public:
  explicit VisionTransformerImpl(const VisionTransformerOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t feature_dim() const override { return options_.hidden_dim(); }
  int64_t forward_flops(int64_t side) const override;
  nlohmann::json describe() const override;
  std::string summary() const override;
  std::string shape_options() const override { return "--arch and --model.patch_size (and the image size)"; }
  std::vector<std::string> stages() const override;
  std::vector<std::string> classifier_prefixes() const override { return {"heads."}; }
  const VisionTransformerOptions& options() const { return options_; }

 private:
  VisionTransformerOptions options_;
  torch::Tensor class_token;
  torch::nn::Conv2d conv_proj{nullptr};
  // torchvision nests these under "encoder": pos_embedding, layers.*, ln.
  std::shared_ptr<torch::nn::Module> encoder_;
  torch::Tensor pos_embedding;
  std::vector<EncoderBlock> blocks_;
  torch::nn::LayerNorm ln{nullptr};
};
TORCH_MODULE(VisionTransformer);

}  // namespace simclr::models

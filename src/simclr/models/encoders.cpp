// The encoder registry: one line per family (model.arch). A new encoder is
// a class implementing EncoderImpl (models/encoder.h) and one line here.
#include "simclr/core/error.h"
#include "simclr/models/encoder.h"
#include "simclr/models/resnet.h"
#include "simclr/models/vision_transformer.h"

namespace simclr::models {
namespace {

Encoder resnet(const std::string& arch, const ModelOptions& o, const EncoderInput& in) {
  const bool cifar_stem = o.stem == "cifar" || (o.stem == "auto" && in.side <= 64);
  return Encoder(
      ResNet(ResNetOptions(arch).width(o.width).in_channels(in.channels).cifar_stem(cifar_stem).image_size(in.side))
          .ptr());
}

// ViT-Tiny and ViT-Small (DeiT's sizes): width, heads and MLP width; 12 layers.
Encoder vit(const std::string& arch, int64_t dim, int64_t heads, const ModelOptions& o, const EncoderInput& in) {
  SIMCLR_CHECK(o.width == ModelOptions().width,
               "model.width sets a ResNet's channels; {} has width {} (choose vit_tiny or vit_small for another)",
               arch, dim);
  const int64_t patch = o.patch_size > 0 ? o.patch_size : (in.side <= 64 ? 4 : 16);
  return Encoder(VisionTransformer(VisionTransformerOptions(in.side, patch)
                               .in_channels(in.channels)
                               .layers(12)
                               .heads(heads)
                               .hidden_dim(dim)
                               .mlp_dim(4 * dim)
                               .arch(arch))
                     .ptr());
}

}  // namespace

const Registry<EncoderEntry>& encoders() {
  using O = const ModelOptions&;
  using I = const EncoderInput&;
  static const Registry<EncoderEntry> registry(
      "encoder", {
                     {"resnet18", "ResNet-18 (11.2M parameters at width 64)", [](O o, I i) { return resnet("resnet18", o, i); }},
                     {"resnet34", "ResNet-34 (21.3M)", [](O o, I i) { return resnet("resnet34", o, i); }},
                     {"resnet50", "ResNet-50 (23.5M), the paper's", [](O o, I i) { return resnet("resnet50", o, i); }},
                     {"vit_tiny", "ViT-Tiny: 12 layers, width 192, 3 heads (5.5M)", [](O o, I i) { return vit("vit_tiny", 192, 3, o, i); }},
                     {"vit_small", "ViT-Small: 12 layers, width 384, 6 heads (21.7M)",
                      [](O o, I i) { return vit("vit_small", 384, 6, o, i); }},
                 });
  return registry;
}

Encoder make_encoder(const ModelOptions& options, const EncoderInput& input) {
  return encoders().at(options.arch, "model.arch").make(options, input);
}

}  // namespace simclr::models

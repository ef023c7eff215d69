#include "simclr/models/simclr_model.h"

namespace simclr::models {

SimclrModelImpl::SimclrModelImpl(Encoder encoder_module, const ProjectionHeadOptions& head_options) {
  encoder = register_module("encoder", std::move(encoder_module));
  auto head_opts = head_options;
  head_opts.in_dim(encoder->feature_dim());
  head = register_module("head", ProjectionHead(head_opts));
}

Views SimclrModelImpl::forward(const torch::Tensor& x) {
  auto h = encoder(x);
  auto z = head(h);
  return {h, z};
}

SimclrModel build_model(const ModelOptions& c, int64_t channels, int64_t image_side) {
  auto head = ProjectionHeadOptions(0).hidden_dim(c.head_hidden).out_dim(c.head_dim).layers(c.head_layers);
  return SimclrModel(make_encoder(c, {channels, image_side}), head);
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace simclr::models

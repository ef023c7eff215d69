#include "simclr/eval/features.h"

#include "simclr/data/contrastive_loader.h"

namespace simclr::eval {

Features extract_features(models::ResNet& encoder, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options) {
  const bool was_training = encoder->is_training();
  encoder->eval();
  const auto device = encoder->parameters().front().device();
  std::vector<torch::Tensor> xs, ys;
  {
    torch::InferenceMode inference;
    auto batches = data::make_eval_batches(dataset, options.size, options.batch_size, options.workers, 4);
    while (auto batch = batches->next()) {
      auto images = batch->images.to(device);
      if (options.channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
      train::AutocastGuard autocast(options.precision, device);
      xs.push_back(encoder->forward(images).to(torch::kCPU, torch::kFloat).contiguous());
      ys.push_back(batch->labels);
    }
  }
  encoder->train(was_training);
  return {torch::cat(xs), torch::cat(ys)};
}

}  // namespace simclr::eval

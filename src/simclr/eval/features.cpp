#include "simclr/eval/features.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "simclr/core/rng.h"
#include "simclr/core/interrupt.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/io/atomic_file.h"

namespace simclr::eval {
namespace {

template <class Forward>
Features run_extraction(torch::nn::Module& module, const torch::Device& device,
                        std::shared_ptr<const data::Dataset> dataset, const FeatureOptions& options,
                        Forward&& forward) {
  const bool was_training = module.is_training();
  module.eval();
  std::vector<torch::Tensor> xs, ys;
  {
    torch::InferenceMode inference;
    auto batches = pipeline::make_eval_batches(dataset, options.size, options.batch_size, options.workers, 4);
    while (auto batch = batches->next()) {
      interrupt_point("features");
      auto images = batch->images.to(device);
      if (options.channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
      AutocastGuard autocast(options.precision, device);
      xs.push_back(forward(images).to(torch::kCPU, torch::kFloat).contiguous());
      ys.push_back(batch->labels);
    }
  }
  module.train(was_training);
  return {torch::cat(xs), torch::cat(ys)};
}

uint64_t hash_text(const std::string& text) {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (unsigned char c : text) h = splitmix64(h ^ c);
  return h;
}

}  // namespace

Features extract_features(models::SimclrModel& model, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options) {
  const auto device = model->parameters().front().device();
  return run_extraction(*model, device, std::move(dataset), options, [&](const torch::Tensor& images) {
    const auto h = model->encoder->forward(images);
    return options.head_blocks == 0 ? h : model->head->forward_to(h, options.head_blocks);
  });
}

Features extract_features(models::Encoder& encoder, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options) {
  const auto device = encoder->parameters().front().device();
  return run_extraction(*encoder, device, std::move(dataset), options,
                        [&](const torch::Tensor& images) { return encoder->forward(images); });
}

Features split_features(EvalModel& model, std::shared_ptr<const data::Dataset> dataset, const std::string& split_name,
                        const config::Config& config, int workers, const std::string& cache_dir) {
  namespace fs = std::filesystem;
  FeatureOptions options;
  options.size = model.image_size;
  options.head_blocks = config::feature_layer_blocks(config.eval.feature_layer, config.model.head_layers,
                                                     "eval.feature_layer");
  options.batch_size = config.eval.batch_size;
  options.workers = workers;
  options.channels_last = model.channels_last;
  options.precision = model.precision;

  std::string cache_file;
  if (!cache_dir.empty() && config.eval.cache_features && fs::is_regular_file(model.source)) {
    const auto stamp = fs::last_write_time(model.source).time_since_epoch().count();
    const std::string key = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", fs::absolute(model.source).string(), stamp,
                                        fs::file_size(model.source), config.data.dataset,
                                        fs::absolute(config.data.path).string(), split_name, dataset->size(),
                                        options.head_blocks, options.size, simclr::to_string(options.precision));
    cache_file = (fs::path(cache_dir) / fmt::format("{}-{}-{:016x}.pt", split_name, config.eval.feature_layer,
                                                    hash_text(key)))
                     .string();
    if (fs::is_regular_file(cache_file)) {
      try {
        std::vector<torch::Tensor> xy;
        torch::load(xy, cache_file);
        if (xy.size() == 2 && xy[0].size(0) == static_cast<int64_t>(dataset->size())) {
          spdlog::info("features of the {} split ({}): loaded from cache '{}'", split_name, config.eval.feature_layer,
                       cache_file);
          return {xy[0], xy[1]};
        }
      } catch (const c10::Error&) {
      }
      spdlog::warn("feature cache '{}' is unreadable; recomputing", cache_file);
    }
  }
  Features f = extract_features(model.model, dataset, options);
  if (!cache_file.empty()) {
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    try {
      write_atomically(cache_file, [&](std::ostream& out) { torch::save(std::vector<torch::Tensor>{f.x, f.y}, out); });
    } catch (const std::exception& e) {
      spdlog::warn("could not cache features in '{}': {}", cache_file, e.what());
    }
  }
  return f;
}

}  // namespace simclr::eval

#include "simclr/eval/linear_eval.h"

#include <chrono>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/threads.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/precision.h"

namespace simclr::eval {

LinearEvalResult linear_eval(const config::Config& config, io::CheckpointReader* checkpoint) {
  using Clock = std::chrono::steady_clock;
  const ThreadPlan threads = configure_threads(static_cast<int>(config.train.threads), static_cast<int>(config.data.workers));
  auto train = data::open_dataset(config.data, data::Split::kTrain);
  auto test = data::open_dataset(config.data, data::Split::kTest);
  const auto augment = augment::AugmentOptions::from_config(config.augment, train->image_side());

  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  auto model = models::build_model(config.model, train->channels(), augment.size);
  if (checkpoint) checkpoint->load_model(model);
  const auto device = train::resolve_device(config.train.device);
  model->to(device);
  if (config.train.channels_last) models::to_channels_last(*model);
  for (auto& p : model->parameters()) p.set_requires_grad(false);  // frozen: the protocol's premise

  FeatureOptions feature_options;
  feature_options.size = augment.size;
  feature_options.batch_size = config.eval.batch_size;
  feature_options.workers = threads.loader_workers;
  feature_options.channels_last = config.train.channels_last;
  feature_options.precision = train::resolve_precision(config.train.precision, device);

  LinearEvalResult result;
  auto t0 = Clock::now();
  spdlog::info("linear eval: extracting features of {} train and {} test images ({})", train->size(), test->size(),
               checkpoint ? checkpoint->path() : "random-init encoder");
  const Features train_features = extract_features(model->encoder, train, feature_options);
  const Features test_features = extract_features(model->encoder, test, feature_options);
  result.feature_seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  LinearProbeOptions probe;
  probe.weight_decays = config::parse_list(config.eval.weight_decays, "eval.weight_decays");
  probe.max_iter = config.eval.max_iter;
  probe.seed = static_cast<uint64_t>(config.train.seed);
  t0 = Clock::now();
  result.probe = linear_probe(train_features, test_features, probe);
  result.probe_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  result.train_size = train_features.x.size(0);
  result.test_size = test_features.x.size(0);
  result.feature_dim = train_features.x.size(1);
  return result;
}

}  // namespace simclr::eval

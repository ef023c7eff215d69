#include "simclr/eval/linear_eval.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/eval/eval_model.h"

namespace simclr::eval {

std::string feature_cache_dir(const serialize::CheckpointReader* checkpoint) {
  if (!checkpoint) return "";
  return (std::filesystem::path(checkpoint->path()).parent_path() / "features").string();
}

TrainTestFeatures train_test_features(const config::Config& config, serialize::CheckpointReader* checkpoint) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string test_split = scored_split(config, "evaluation");
  const ThreadPlan threads = configure_threads(static_cast<int>(config.train.threads), static_cast<int>(config.data.workers));
  auto train = data::open_dataset(config.data, data::Split::kTrain);
  auto test = data::open_dataset(config.data, data::Split::kTest);
  SIMCLR_CHECK(train->num_classes() > 0 && train->label(0) >= 0 && test->label(0) >= 0,
               "'{}' has no labels; linear and kNN evaluation need labeled train and test splits", config.data.path);
  data::check_split_labels(*train, *test, config.data);
  EvalModel model = load_eval_model(config, checkpoint, *train);
  for (auto& p : model.model->parameters()) p.set_requires_grad(false);  // frozen: the protocols' premise
  spdlog::info("features at {} of {} train and {} test images ({})", config.eval.feature_layer, train->size(),
               test->size(), model.source);
  const std::string cache = feature_cache_dir(checkpoint);
  TrainTestFeatures out;
  out.train = split_features(model, train, "train", config, threads.loader_workers, cache);
  out.test = split_features(model, test, "test", config, threads.loader_workers, cache);
  out.num_classes = train->num_classes();
  out.test_split = test_split;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

LinearEvalResult linear_eval(const config::Config& config, serialize::CheckpointReader* checkpoint) {
  using Clock = std::chrono::steady_clock;
  const TrainTestFeatures features = train_test_features(config, checkpoint);
  const Features& train_features = features.train;
  const Features& test_features = features.test;
  LinearEvalResult result;
  result.feature_layer = config.eval.feature_layer;
  result.feature_seconds = features.seconds;
  result.test_split = features.test_split;

  LinearProbeOptions probe;
  probe.weight_decays = config::parse_list(config.eval.weight_decays, "eval.weight_decays");
  probe.max_iter = config.eval.max_iter;
  probe.seed = static_cast<uint64_t>(config.train.seed);
  const auto t0 = Clock::now();
  result.probe = linear_probe(train_features, test_features, probe);
  result.probe_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  result.weight_decays = probe.weight_decays;
  result.train_size = train_features.x.size(0);
  result.test_size = test_features.x.size(0);
  result.feature_dim = train_features.x.size(1);
  return result;
}

}  // namespace simclr::eval

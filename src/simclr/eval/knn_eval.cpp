#include "simclr/eval/knn_eval.h"

#include <chrono>

#include "simclr/eval/linear_eval.h"

namespace simclr::eval {

KnnEvalResult knn_eval(const config::Config& config, serialize::CheckpointReader* checkpoint) {
  using Clock = std::chrono::steady_clock;
  const TrainTestFeatures features = train_test_features(config, checkpoint);
  const Features& bank = features.train;
  const Features& queries = features.test;
  KnnEvalResult r;
  r.feature_seconds = features.seconds;
  r.test_split = features.test_split;
  const auto t0 = Clock::now();
  KnnOptions options;
  options.k = config.eval.knn_k;
  options.temperature = config.eval.knn_temperature;
  r.knn = knn_classify(bank, queries, features.num_classes, options);
  r.knn_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.k = options.k;
  r.temperature = options.temperature;
  r.feature_layer = config.eval.feature_layer;
  r.train_size = bank.x.size(0);
  r.test_size = queries.x.size(0);
  r.feature_dim = bank.x.size(1);
  return r;
}

}  // namespace simclr::eval

// `simclr knn-eval`: the weighted kNN classifier (eval/knn.h) on frozen
// features of a checkpoint's encoder, the train split as the bank and the
// test split as the queries.
#pragma once
#include <string>

#include "simclr/config/config.h"
#include "simclr/eval/knn.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::eval {

struct KnnEvalResult {
  KnnResult knn;
  int64_t k = 0;
  double temperature = 0;
  std::string feature_layer;
  int64_t train_size = 0, test_size = 0, feature_dim = 0;
  double feature_seconds = 0, knn_seconds = 0;
  std::string test_split = "test";  // "train" under eval.test_on_train
};
KnnEvalResult knn_eval(const config::Config& config, serialize::CheckpointReader* checkpoint);

}  // namespace simclr::eval

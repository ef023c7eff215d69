// `simclr linear-eval`: loads the encoder of a pretraining checkpoint (or a
// randomly initialised one, the baseline), extracts frozen features of the
// train and test splits, and runs the linear probe (eval/linear_probe.h).
#pragma once
#include <string>

#include "simclr/config/config.h"
#include "simclr/eval/linear_probe.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::eval {

struct LinearEvalResult {
  LinearProbeResult probe;
  std::string feature_layer;          // h, headK or z
  std::vector<double> weight_decays;  // the L2 grid; probe.holdout_top1 holds its hold-out scores
  int64_t train_size = 0, test_size = 0, feature_dim = 0;
  double feature_seconds = 0, probe_seconds = 0;
  std::string test_split = "test";  // "train" under eval.test_on_train
};

// `config` gives the model (normally the checkpoint's config), the data and
// the eval.* options. Without a checkpoint the encoder is the random one
// that pretraining starts from (initialised from train.seed): the baseline.
LinearEvalResult linear_eval(const config::Config& config, serialize::CheckpointReader* checkpoint);

// Where features of a checkpoint are cached: <run dir>/features ("" without one).
std::string feature_cache_dir(const serialize::CheckpointReader* checkpoint);

// Frozen features of the train and test splits, as the protocols use them
// (eval.feature_layer, cached next to the checkpoint).
struct TrainTestFeatures {
  Features train, test;
  int64_t num_classes = 0;
  double seconds = 0;
  std::string test_split = "test";  // see scored_split()
};
TrainTestFeatures train_test_features(const config::Config& config, serialize::CheckpointReader* checkpoint);

}  // namespace simclr::eval

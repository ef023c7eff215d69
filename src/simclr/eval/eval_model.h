// The trained network as every evaluation command uses it: built from the
// config, loaded from a pretraining checkpoint (or, without one, initialised
// from train.seed or from model.init_weights), moved to the device once, in
// channels-last where configured.
#pragma once
#include <torch/torch.h>

#include "simclr/config/config.h"
#include "simclr/data/dataset.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/models/simclr_model.h"
#include "simclr/core/precision.h"

namespace simclr::eval {

struct EvalModel {
  models::SimclrModel model{nullptr};
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  int image_size = 32;  // the side the encoder was trained on
  int channels = 3;
  bool channels_last = false;  // train.channels_last where the CPU can honour it
  std::string source;   // checkpoint path, weights file or "random init"
};

// `dataset` gives channels and the nominal image side (for the stem choice
// and the input size when augment.image_size is 0).
// The split evaluations score on: "test", or "train" when the dataset has
// no test split and eval.test_on_train asks for it. Otherwise a dataset
// without a test split is refused, naming it: scoring the images the probe
// was fitted on reports a top-1 near 1.0 that means nothing.
std::string scored_split(const config::Config& config, const std::string& command);

EvalModel load_eval_model(const config::Config& config, serialize::CheckpointReader* checkpoint,
                          const data::Dataset& dataset);

}  // namespace simclr::eval

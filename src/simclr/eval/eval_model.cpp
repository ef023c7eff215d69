#include "simclr/eval/eval_model.h"

#include <spdlog/spdlog.h>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/models/conv2d.h"
#include "simclr/serialize/weight_import.h"

namespace simclr::eval {

std::string scored_split(const config::Config& config, const std::string& command) {
  if (data::has_test_split(config.data)) return "test";
  SIMCLR_CHECK(config.eval.test_on_train,
               "{}: '{}' ({}) has no test split (for an image folder: root/train/<class> and root/test/<class>; for "
               "CSV: a folder with train.csv and test.csv), so the score would be on the images the classifier was "
               "fitted on. Give a dataset with a test split, or pass --eval.test_on_train true to score on the "
               "training images anyway (the result is then marked \"test_split\": \"train\")",
               command, config.data.path, config.data.dataset);
  spdlog::warn("{}: '{}' has no test split; scoring on the training images (eval.test_on_train): this overstates "
               "the accuracy",
               command, config.data.path);
  return "train";
}

EvalModel load_eval_model(const config::Config& config, serialize::CheckpointReader* checkpoint,
                          const data::Dataset& dataset) {
  interrupt_point("data");
  EvalModel out;
  out.image_size = augment::AugmentOptions::from_config(config.augment, dataset.image_side()).size;
  out.channels = dataset.channels();
  if (checkpoint && checkpoint->input().channels > 0) {
    // Found here, before any computation: LibTorch would otherwise fail in
    // the first convolution with a shape error that names no file.
    const auto& in = checkpoint->input();
    SIMCLR_CHECK(in.channels == out.channels,
                 "checkpoint '{}' expects {}-channel {}x{} images; '{}' ({}) has {}-channel {}x{}: evaluate on data "
                 "like the training data, or pretrain on this dataset",
                 checkpoint->path(), in.channels, in.image_size, in.image_size, config.data.path, config.data.dataset,
                 out.channels, dataset.image_side(), dataset.image_side());
    if (config.augment.image_size == 0 && in.image_size != out.image_size) {
      spdlog::warn("the encoder of '{}' was trained on {}x{} images and '{}' has {}x{}: its images are resized to "
                   "{}x{} (set --augment.image_size to choose another side)",
                   checkpoint->path(), in.image_size, in.image_size, config.data.path, dataset.image_side(),
                   dataset.image_side(), in.image_size, in.image_size);
      out.image_size = static_cast<int>(in.image_size);
    }
  }
  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  out.model = models::build_model(config.model, out.channels, out.image_size);
  if (checkpoint) {
    checkpoint->load_model(out.model);
    out.source = checkpoint->path();
  } else {
    serialize::maybe_import_weights(config.model, out.model);
    out.source = config.model.init_weights.empty() ? "random init" : config.model.init_weights;
  }
  out.device = resolve_device(config.train.device);
  out.model->to(out.device);
  out.channels_last = resolve_channels_last(config.train.channels_last, out.device);
  if (out.channels_last) models::to_channels_last(*out.model);
  out.precision = resolve_precision(config.train.precision, out.device);
  models::set_gemm_conv_backward(config.train.conv_backward == "auto");  // fine-tuning trains it
  interrupt_point("model");
  return out;
}

}  // namespace simclr::eval

#include "simclr/eval/eval_model.h"

#include "simclr/augment/simclr_augment.h"
#include "simclr/models/weight_import.h"

namespace simclr::eval {

EvalModel load_eval_model(const config::Config& config, io::CheckpointReader* checkpoint,
                          const data::Dataset& dataset) {
  EvalModel out;
  out.image_size = augment::AugmentOptions::from_config(config.augment, dataset.image_side()).size;
  out.channels = dataset.channels();
  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  out.model = models::build_model(config.model, out.channels, out.image_size);
  if (checkpoint) {
    checkpoint->load_model(out.model);
    out.source = checkpoint->path();
  } else {
    models::maybe_import_weights(config.model, out.model);
    out.source = config.model.init_weights.empty() ? "random init" : config.model.init_weights;
  }
  out.device = train::resolve_device(config.train.device);
  out.model->to(out.device);
  if (config.train.channels_last) models::to_channels_last(*out.model);
  out.precision = train::resolve_precision(config.train.precision, out.device);
  return out;
}

}  // namespace simclr::eval

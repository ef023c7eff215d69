// The online kNN monitor of `simclr pretrain`: a weighted kNN (eval/knn.h)
// of the encoder's h on part of the labeled splits, every
// eval.knn_every_steps steps or eval.knn_every_epochs epochs and at the end
// of the run, so a user sees the representation improve (or not) while it
// trains. It reads the model and changes nothing in it.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "simclr/config/config.h"
#include "simclr/data/dataset.h"
#include "simclr/eval/features.h"
#include "simclr/models/encoder.h"

namespace simclr::train {

class KnnMonitor {
 public:
  // Off when eval.knn_every_* are 0, and off with a warning that says why
  // when the data has no labels or no test split (scoring training images
  // would overstate it; eval.test_on_train does it anyway).
  explicit KnnMonitor(const config::Config& config);
  bool enabled() const { return bank_ != nullptr; }

  // Whether to run after the step that brought the run to `step` (and,
  // when `epoch_ended`, to `epoch`); `last` is the run's final step.
  bool due(int64_t step, int64_t epoch, bool epoch_ended, bool last) const;

  // Runs it, logs it and returns its metrics line (step, knn_top1, knn_top5,
  // sizes, seconds). `features` sets how the images are fed to the encoder.
  nlohmann::json run(models::Encoder& encoder, const eval::FeatureOptions& features, int64_t step) const;

 private:
  int64_t every_steps_ = 0, every_epochs_ = 0, k_ = 200;
  double temperature_ = 0.1;
  std::shared_ptr<data::Dataset> bank_, queries_;
};

}  // namespace simclr::train

#include "simclr/train/knn_monitor.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "simclr/data/subset.h"
#include "simclr/eval/knn.h"

namespace simclr::train {

KnnMonitor::KnnMonitor(const config::Config& config)
    : every_steps_(config.eval.knn_every_steps),
      every_epochs_(config.eval.knn_every_epochs),
      k_(config.eval.knn_k),
      temperature_(config.eval.knn_temperature) {
  if (every_steps_ <= 0 && every_epochs_ <= 0) return;
  if (!data::has_test_split(config.data) && !config.eval.test_on_train) {
    spdlog::warn("kNN monitor off: '{}' has no test split, and scoring the training images would overstate it "
                 "(--eval.test_on_train true scores them anyway)",
                 config.data.path);
    return;
  }
  auto labeled = data::open_dataset(config.data, data::Split::kTrain);
  auto test = data::open_dataset(config.data, data::Split::kTest);
  if (labeled->num_classes() <= 0 || labeled->label(0) < 0 || test->label(0) < 0) {
    spdlog::warn("kNN monitor off: '{}' has no labels", config.data.path);
    return;
  }
  bank_ = std::make_shared<data::SubsetDataset>(
      labeled, data::evenly_spaced(labeled->size(), static_cast<size_t>(config.eval.knn_monitor_train)));
  queries_ = std::make_shared<data::SubsetDataset>(
      test, data::evenly_spaced(test->size(), static_cast<size_t>(config.eval.knn_monitor_test)));
}

bool KnnMonitor::due(int64_t step, int64_t epoch, bool epoch_ended, bool last) const {
  if (!enabled()) return false;
  return last || (every_steps_ > 0 && step % every_steps_ == 0) ||
         (every_epochs_ > 0 && epoch_ended && epoch % every_epochs_ == 0);
}

nlohmann::json KnnMonitor::run(models::Encoder& encoder, const eval::FeatureOptions& features, int64_t step) const {
  const auto t0 = std::chrono::steady_clock::now();
  const auto bank = eval::extract_features(encoder, bank_, features);
  const auto queries = eval::extract_features(encoder, queries_, features);
  eval::KnnOptions options;
  options.k = k_;
  options.temperature = temperature_;
  const auto r = eval::knn_classify(bank, queries, bank_->num_classes(), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("kNN monitor at step {}: top-1 {:.2f}% top-5 {:.2f}% ({} train / {} test images, {:.1f} s)", step,
               100 * r.top1, 100 * r.top5, bank.x.size(0), queries.x.size(0), seconds);
  return {{"step", step},          {"knn_top1", r.top1},
          {"knn_top5", r.top5},    {"knn_bank", bank.x.size(0)},
          {"knn_queries", queries.x.size(0)}, {"knn_seconds", seconds}};
}

}  // namespace simclr::train

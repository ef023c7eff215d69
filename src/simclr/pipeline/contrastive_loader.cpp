#include "simclr/pipeline/contrastive_loader.h"

#include <numeric>

#include "simclr/core/error.h"
#include "simclr/core/rng.h"

namespace simclr::pipeline {
namespace {
// Distinct stream tags so the shuffle and the augmentations never share draws.
constexpr uint64_t kShuffleStream = 0x5348554646ull;
constexpr uint64_t kAugmentStream = 0x4155474dull;
}  // namespace

Rng sample_rng(uint64_t seed, int64_t epoch, int64_t index) {
  return Rng(derive_seed(seed, kAugmentStream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)));
}

ContrastiveLoader::ContrastiveLoader(std::shared_ptr<const data::Dataset> dataset, augment::SimclrAugment augment,
                                     LoaderOptions options)
    : dataset_(std::move(dataset)), augment_(std::move(augment)), options_(options) {
  SIMCLR_CHECK(options_.batch_size >= 2, "batch size {} is too small: a contrastive batch needs at least 2 images",
               options_.batch_size);
  SIMCLR_CHECK(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
               "loader shard: rank {} is outside [0, world size {})", options_.rank, options_.world_size);
  SIMCLR_CHECK(options_.batch_size % options_.world_size == 0 && local_batch_size() >= 1,
               "batch size {} does not split evenly over {} processes; use a multiple of {}", options_.batch_size,
               options_.world_size, options_.world_size);
  SIMCLR_CHECK(options_.drop_last || options_.world_size == 1,
               "a sharded loader must drop the last partial batch, so that every rank gets the same batch size");
  SIMCLR_CHECK(batches_per_epoch() > 0,
               "the dataset has {} images, fewer than one batch of {}; lower --batch-size or add images",
               dataset_->size(), options_.batch_size);
}

int64_t ContrastiveLoader::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(dataset_->size());
  return options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

std::vector<int64_t> shuffled_order(size_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(seed, kShuffleStream, static_cast<uint64_t>(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

std::vector<int64_t> ContrastiveLoader::epoch_order(int64_t epoch) const {
  return shuffled_order(dataset_->size(), options_.seed, epoch);
}

void ContrastiveLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  batches_.reset();  // joins the previous epoch's workers first
  auto order = std::make_shared<std::vector<int64_t>>(epoch_order(epoch));
  const int64_t count = batches_per_epoch() - first_batch;
  SIMCLR_CHECK(count >= 0, "cannot start epoch {} at batch {}: it has only {} batches", epoch, first_batch,
               batches_per_epoch());
  batches_ = std::make_unique<data::ParallelBatches<ViewBatch>>(
      count, options_.workers, options_.prefetch,
      [this, epoch, order, first_batch](int64_t b) { return make_batch(epoch, *order, first_batch + b); });
}

std::optional<ViewBatch> ContrastiveLoader::next() {
  TORCH_INTERNAL_ASSERT(batches_, "start_epoch() must be called before next()");
  return batches_->next();
}

ViewBatch ContrastiveLoader::make_batch(int64_t epoch, const std::vector<int64_t>& order, int64_t batch) const {
  const int64_t begin = batch * options_.batch_size + options_.rank * local_batch_size();
  const int64_t end = std::min<int64_t>(begin + local_batch_size(), static_cast<int64_t>(order.size()));
  const int64_t n = end - begin;
  const int c = dataset_->channels(), s = augment_.options().size;
  ViewBatch out;
  out.views = torch::empty({2 * n, c, s, s}, torch::TensorOptions().pinned_memory(options_.pin_memory));
  out.view1 = out.views.narrow(0, 0, n);
  out.view2 = out.views.narrow(0, n, n);
  out.labels = torch::empty({n}, torch::kLong);
  out.indices = torch::empty({n}, torch::kLong);
  out.epoch = epoch;
  out.batch = batch;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = order[begin + i];
    const data::Sample sample = dataset_->get(static_cast<size_t>(index));
    Rng rng = sample_rng(options_.seed, epoch, index);
    augment::copy_to_tensor(augment_(sample.image, rng), out.view1[i]);
    augment::copy_to_tensor(augment_(sample.image, rng, 1), out.view2[i]);
    out.labels.data_ptr<int64_t>()[i] = sample.label;
    out.indices.data_ptr<int64_t>()[i] = index;
  }
  return out;
}

namespace {

// Labeled batches of one image per sample: batch b holds the samples at
// positions [b*B, (b+1)*B) of `order`, each turned into a size x size float
// image by `transform(image, dataset index)`.
using Transform = std::function<cv::Mat(const cv::Mat&, int64_t)>;
std::unique_ptr<data::ParallelBatches<EvalBatch>> labeled_batches(std::shared_ptr<const data::Dataset> dataset,
                                                            std::shared_ptr<const std::vector<int64_t>> order, int size,
                                                            int64_t batch_size, int workers, int prefetch,
                                                            Transform transform) {
  const int64_t n = static_cast<int64_t>(order->size());
  const int64_t count = (n + batch_size - 1) / batch_size;
  return std::make_unique<data::ParallelBatches<EvalBatch>>(count, workers, prefetch, [=](int64_t b) {
    const int64_t begin = b * batch_size, end = std::min(n, begin + batch_size);
    EvalBatch out;
    out.images = torch::empty({end - begin, dataset->channels(), size, size});
    out.labels = torch::empty({end - begin}, torch::kLong);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t index = (*order)[static_cast<size_t>(i)];
      const data::Sample sample = dataset->get(static_cast<size_t>(index));
      augment::copy_to_tensor(transform(sample.image, index), out.images[i - begin]);
      out.labels.data_ptr<int64_t>()[i - begin] = sample.label;
    }
    return out;
  });
}

}  // namespace

std::unique_ptr<data::ParallelBatches<EvalBatch>> make_augmented_batches(std::shared_ptr<const data::Dataset> dataset,
                                                                   augment::SimclrAugment augment, int64_t batch_size,
                                                                   uint64_t seed, int64_t epoch, int workers,
                                                                   int prefetch) {
  auto order = std::make_shared<const std::vector<int64_t>>(shuffled_order(dataset->size(), seed, epoch));
  const int size = augment.options().size;
  return labeled_batches(std::move(dataset), std::move(order), size, batch_size, workers, prefetch,
                         [augment = std::move(augment), seed, epoch](const cv::Mat& image, int64_t index) {
                           Rng rng = sample_rng(seed, epoch, index);
                           return augment(image, rng);
                         });
}

std::unique_ptr<data::ParallelBatches<EvalBatch>> make_eval_batches(std::shared_ptr<const data::Dataset> dataset, int size,
                                                             int64_t batch_size, int workers, int prefetch) {
  auto order = std::make_shared<std::vector<int64_t>>(dataset->size());
  std::iota(order->begin(), order->end(), 0);
  return labeled_batches(std::move(dataset), std::move(order), size, batch_size, workers, prefetch,
                         [size](const cv::Mat& image, int64_t) { return augment::eval_transform(image, size); });
}

}  // namespace simclr::pipeline

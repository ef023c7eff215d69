// Batches of two augmented views per image for SimCLR pretraining.
//
// Epoch e visits a permutation of the dataset drawn from (seed, e); sample i
// of that epoch is augmented with an Rng seeded from (seed, e, i), so the
// batches are bit-identical for any number of loader threads, and a resumed
// run sees exactly the batches it would have seen.
//
// Sharding for data-parallel runs: every rank draws the same permutation and
// global batch b is order[b*B, (b+1)*B); rank r of W takes the r-th slice of
// B/W images of it. The ranks' batches of a step are therefore exactly the
// single-process batch of the same global size, split in rank order, and the
// shards of an epoch partition its indices.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/rng.h"
#include "simclr/data/dataset.h"
#include "simclr/data/parallel_batches.h"

namespace simclr::pipeline {

// The generator that augments sample `index` in epoch `epoch`: both views
// of a sample draw from it, in order (view 1, then view 2).
Rng sample_rng(uint64_t seed, int64_t epoch, int64_t index);

// The permutation of 0..n-1 that epoch `epoch` visits, drawn from (seed, epoch).
std::vector<int64_t> shuffled_order(size_t n, uint64_t seed, int64_t epoch);

struct ViewBatch {
  torch::Tensor views;         // [2B, C, S, S] float32 in [0, 1]: view1 then view2, as the model takes them
  torch::Tensor view1, view2;  // [B, C, S, S] each: the halves of `views`
  torch::Tensor labels;        // [B] int64 (unused by pretraining; for monitors)
  torch::Tensor indices;       // [B] int64 dataset indices
  int64_t epoch = 0, batch = 0;
};

struct LoaderOptions {
  int64_t batch_size = 256;  // global batch: images per step over all ranks
  int workers = 1;
  int prefetch = 4;
  uint64_t seed = 0;
  bool drop_last = true;  // a contrastive batch needs negatives: drop the short tail
  int rank = 0;           // this process's shard, in [0, world_size)
  int world_size = 1;     // batch_size must be a multiple of it
  // Batches in page-locked memory (training on CUDA), so the copy to the GPU
  // can be asynchronous (non_blocking) and overlap the previous step.
  bool pin_memory = false;
};

class ContrastiveLoader {
 public:
  ContrastiveLoader(std::shared_ptr<const data::Dataset> dataset, augment::SimclrAugment augment, LoaderOptions options);

  int64_t batches_per_epoch() const;
  // Images in this rank's part of a full batch (batch_size / world_size).
  int64_t local_batch_size() const { return options_.batch_size / options_.world_size; }
  // Starts epoch `epoch` at batch `first_batch` (to resume mid-epoch).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the current epoch, or nullopt at its end.
  std::optional<ViewBatch> next();

  // The order in which epoch `epoch` visits the dataset.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  ViewBatch make_batch(int64_t epoch, const std::vector<int64_t>& order, int64_t batch) const;

  std::shared_ptr<const data::Dataset> dataset_;
  augment::SimclrAugment augment_;
  LoaderOptions options_;
  std::unique_ptr<data::ParallelBatches<ViewBatch>> batches_;
};

// Fixed, unaugmented batches in dataset order for feature extraction.
struct EvalBatch {
  torch::Tensor images;  // [B, C, S, S] float32 in [0, 1]
  torch::Tensor labels;  // [B] int64
};

// Labeled batches of one augmented view per image (supervised fine-tuning):
// epoch `epoch` is a permutation drawn from (seed, epoch), the short tail is
// kept, and sample i is augmented from sample_rng(seed, epoch, i).
std::unique_ptr<data::ParallelBatches<EvalBatch>> make_augmented_batches(std::shared_ptr<const data::Dataset> dataset,
                                                                   augment::SimclrAugment augment, int64_t batch_size,
                                                                   uint64_t seed, int64_t epoch, int workers,
                                                                   int prefetch);

std::unique_ptr<data::ParallelBatches<EvalBatch>> make_eval_batches(std::shared_ptr<const data::Dataset> dataset, int size,
                                                             int64_t batch_size, int workers, int prefetch);

}  // namespace simclr::pipeline

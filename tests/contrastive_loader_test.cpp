#include "simclr/pipeline/contrastive_loader.h"

#include <set>

#include "simclr/core/error.h"
#include "simclr/augment/transforms.h"
#include "simclr/data/idx_dataset.h"
#include "test_util.h"

namespace simclr::pipeline {
namespace {
using namespace simclr::testing;
using namespace simclr::data;

std::shared_ptr<Dataset> toy(const TempDir& dir, int n = 50) {
  write_toy_idx(dir.str(), n, 10);
  return IdxDataset::open_folder(dir.str(), Split::kTrain);
}

augment::SimclrAugment small_augment() {
  augment::AugmentOptions o;
  o.size = 12;
  o.blur_p = 0.5;
  return augment::SimclrAugment(o);
}

std::vector<ViewBatch> one_epoch(std::shared_ptr<Dataset> ds, int workers, int64_t epoch, int64_t first = 0) {
  ContrastiveLoader loader(ds, small_augment(), {8, workers, 3, 99, true});
  loader.start_epoch(epoch, first);
  std::vector<ViewBatch> out;
  while (auto b = loader.next()) out.push_back(*b);
  return out;
}

TEST(ContrastiveLoader, BatchesAreIdenticalForAnyNumberOfWorkers) {
  TempDir dir;
  auto ds = toy(dir);
  const auto reference = one_epoch(ds, 0, 3);
  ASSERT_EQ(reference.size(), 6u);  // 50 / 8, short tail dropped
  for (int workers : {1, 2, 5, 8}) {
    const auto batches = one_epoch(ds, workers, 3);
    ASSERT_EQ(batches.size(), reference.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      EXPECT_TRUE(torch::equal(batches[i].view1, reference[i].view1)) << workers << " workers, batch " << i;
      EXPECT_TRUE(torch::equal(batches[i].view2, reference[i].view2));
      EXPECT_TRUE(torch::equal(batches[i].indices, reference[i].indices));
    }
  }
}

TEST(ContrastiveLoader, ShardsPartitionTheEpochAndSplitTheGlobalBatch) {
  TempDir dir;
  auto ds = toy(dir, 53);
  const auto whole = one_epoch(ds, 1, 2);  // global batch 8, 6 batches
  for (int world : {2, 4}) {
    std::vector<std::vector<ViewBatch>> shards;
    for (int rank = 0; rank < world; ++rank) {
      ContrastiveLoader loader(ds, small_augment(), {8, 2, 3, 99, true, rank, world});
      EXPECT_EQ(loader.local_batch_size(), 8 / world);
      EXPECT_EQ(loader.batches_per_epoch(), 6);
      loader.start_epoch(2);
      std::vector<ViewBatch> mine;
      while (auto b = loader.next()) mine.push_back(*b);
      shards.push_back(std::move(mine));
    }
    std::set<int64_t> seen;
    size_t total = 0;
    for (size_t b = 0; b < whole.size(); ++b) {
      // The ranks' batches, in rank order, are the single-process batch.
      std::vector<torch::Tensor> idx, v1, v2;
      for (int rank = 0; rank < world; ++rank) {
        idx.push_back(shards[rank][b].indices);
        v1.push_back(shards[rank][b].view1);
        v2.push_back(shards[rank][b].view2);
        for (int64_t i = 0; i < shards[rank][b].indices.size(0); ++i) {
          seen.insert(shards[rank][b].indices[i].item<int64_t>());
          ++total;
        }
      }
      EXPECT_TRUE(torch::equal(torch::cat(idx), whole[b].indices)) << world << " ranks, batch " << b;
      EXPECT_TRUE(torch::equal(torch::cat(v1), whole[b].view1));
      EXPECT_TRUE(torch::equal(torch::cat(v2), whole[b].view2));
    }
    // Disjoint and complete: every index of the epoch's full batches exactly once.
    EXPECT_EQ(total, 48u);
    EXPECT_EQ(seen.size(), 48u);
  }
  EXPECT_NE(error_of([&] { ContrastiveLoader(ds, small_augment(), {8, 1, 2, 0, true, 0, 3}); }).find("multiple of 3"),
            std::string::npos);
  EXPECT_THROW(ContrastiveLoader(ds, small_augment(), {8, 1, 2, 0, true, 2, 2}), Error);
}

TEST(ContrastiveLoader, EpochsShuffleDifferentlyAndViewsDiffer) {
  TempDir dir;
  auto ds = toy(dir);
  const auto e0 = one_epoch(ds, 2, 0), e1 = one_epoch(ds, 2, 1);
  EXPECT_FALSE(torch::equal(e0[0].indices, e1[0].indices));
  EXPECT_FALSE(torch::equal(e0[0].view1, e0[0].view2));
  std::set<int64_t> seen;
  for (const auto& b : e0) {
    EXPECT_EQ(b.view1.sizes(), (std::vector<int64_t>{8, 1, 12, 12}));
    for (int64_t i = 0; i < b.indices.size(0); ++i) seen.insert(b.indices[i].item<int64_t>());
  }
  EXPECT_EQ(seen.size(), 48u);  // no index twice within an epoch
}

TEST(ContrastiveLoader, ResumingMidEpochGivesTheSameBatches) {
  TempDir dir;
  auto ds = toy(dir);
  const auto full = one_epoch(ds, 2, 4), tail = one_epoch(ds, 2, 4, 2);
  ASSERT_EQ(tail.size(), full.size() - 2);
  for (size_t i = 0; i < tail.size(); ++i) EXPECT_TRUE(torch::equal(tail[i].view1, full[i + 2].view1));
}

TEST(ContrastiveLoader, WorkerErrorsReachTheConsumer) {
  // A dataset whose 5th sample cannot be decoded.
  struct Broken : Dataset {
    size_t size() const override { return 16; }
    Sample get(size_t i) const override {
      if (i == 5) throw Error("cannot decode image 'x/5.jpg'");
      return {cv::Mat(8, 8, CV_8UC1, cv::Scalar(3)), 0};
    }
    int64_t label(size_t) const override { return 0; }
    int64_t num_classes() const override { return 1; }
    int channels() const override { return 1; }
    int image_side() const override { return 8; }
    std::string describe() const override { return "broken"; }
    std::string source(size_t i) const override { return std::to_string(i); }
  };
  augment::AugmentOptions o;
  o.size = 8;
  ContrastiveLoader loader(std::make_shared<Broken>(), augment::SimclrAugment(o), {4, 2, 2, 0, true});
  loader.start_epoch(0);
  EXPECT_THROW(
      {
        while (loader.next()) {
        }
      },
      Error);
}

TEST(ContrastiveLoader, TooFewImagesForOneBatchIsAnError) {
  TempDir dir;
  auto ds = toy(dir, 4);
  EXPECT_THROW(ContrastiveLoader(ds, small_augment(), {8, 1, 2, 0, true}), Error);
}

TEST(EvalBatches, CoverTheDatasetInOrderWithoutAugmentation) {
  TempDir dir;
  auto ds = toy(dir, 10);
  auto batches = make_eval_batches(ds, 12, 4, 2, 2);
  int64_t total = 0;
  while (auto b = batches->next()) {
    for (int64_t i = 0; i < b->labels.size(0); ++i) {
      EXPECT_EQ(b->labels[i].item<int64_t>(), ds->label(total + i));
      const auto expected = augment::to_float(ds->get(total + i).image);
      EXPECT_FLOAT_EQ(b->images[i][0][3][5].item<float>(), expected.at<float>(3, 5));
    }
    total += b->labels.size(0);
  }
  EXPECT_EQ(total, 10);
}

}  // namespace
}  // namespace simclr::pipeline

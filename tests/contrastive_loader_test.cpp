#include "simclr/data/contrastive_loader.h"

#include <set>

#include "simclr/core/error.h"
#include "simclr/augment/transforms.h"
#include "simclr/data/idx_dataset.h"
#include "test_util.h"

namespace simclr::data {
namespace {
using namespace simclr::testing;

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
  for (int workers : {1, 2, 5}) {
    const auto batches = one_epoch(ds, workers, 3);
    ASSERT_EQ(batches.size(), reference.size());
    for (size_t i = 0; i < batches.size(); ++i) {
      EXPECT_TRUE(torch::equal(batches[i].view1, reference[i].view1)) << workers << " workers, batch " << i;
      EXPECT_TRUE(torch::equal(batches[i].view2, reference[i].view2));
      EXPECT_TRUE(torch::equal(batches[i].indices, reference[i].indices));
    }
  }
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
}  // namespace simclr::data

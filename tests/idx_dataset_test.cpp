#include "simclr/data/idx_dataset.h"

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr::data {
namespace {
using namespace simclr::testing;

std::vector<std::vector<uint8_t>> three_images() {
  return {{0, 1, 2, 3, 4, 5}, {10, 11, 12, 13, 14, 15}, {255, 254, 253, 252, 251, 250}};
}

class IdxDatasetTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdxDatasetTest, ReadsImagesAndLabelsPlainOrGzip) {
  TempDir dir;
  const bool gz = GetParam();
  const std::string ext = gz ? ".gz" : "";
  write_bytes(dir / ("train-images-idx3-ubyte" + ext), idx_images(three_images(), 2, 3), gz);
  write_bytes(dir / ("train-labels-idx1-ubyte" + ext), idx_labels({4, 0, 9}), gz);
  auto ds = IdxDataset::open_folder(dir.str(), Split::kTrain);
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ(ds->num_classes(), 10);
  EXPECT_EQ(ds->channels(), 1);
  EXPECT_EQ(ds->image_side(), 2);
  const auto s = ds->get(1);
  EXPECT_EQ(s.label, 0);
  ASSERT_EQ(s.image.rows, 2);
  ASSERT_EQ(s.image.cols, 3);
  EXPECT_EQ(s.image.at<uint8_t>(0, 0), 10);
  EXPECT_EQ(s.image.at<uint8_t>(1, 2), 15);  // row-major, as published
  EXPECT_EQ(ds->label(2), 9);
  EXPECT_THROW(ds->get(3), Error);
}
INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxDatasetTest, ::testing::Bool());

std::string open_error(const std::string& dir) {
  return error_of([&] { IdxDataset::open_folder(dir, Split::kTrain); });
}

TEST(IdxDataset, WrongMagicNumberNamesTheFile) {
  TempDir dir;
  auto images = idx_images(three_images(), 2, 3);
  images[3] = 0x01;  // 0x801: a label file where images are expected
  write_bytes(dir / "train-images-idx3-ubyte", images, false);
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({1, 2, 3}), false);
  const auto msg = open_error(dir.str());
  EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST(IdxDataset, TruncatedBodyIsAnError) {
  TempDir dir;
  auto images = idx_images(three_images(), 2, 3);
  images.resize(images.size() - 4);
  write_bytes(dir / "train-images-idx3-ubyte.gz", images, true);
  write_bytes(dir / "train-labels-idx1-ubyte.gz", idx_labels({1, 2, 3}), true);
  EXPECT_NE(open_error(dir.str()).find("truncated"), std::string::npos);
}

TEST(IdxDataset, CorruptGzipIsAnError) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte.gz", idx_images(three_images(), 2, 3), true);
  write_bytes(dir / "train-labels-idx1-ubyte.gz", idx_labels({1, 2, 3}), true);
  // Cut the compressed stream in half.
  std::ifstream in(dir / "train-images-idx3-ubyte.gz", std::ios::binary);
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  raw.resize(raw.size() / 2);
  write_bytes(dir / "train-images-idx3-ubyte.gz", raw, false);
  const auto msg = open_error(dir.str());
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
}

TEST(IdxDataset, CountMismatchAndMissingFilesAreErrors) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(three_images(), 2, 3), false);
  EXPECT_NE(open_error(dir.str()).find("train-labels-idx1-ubyte"), std::string::npos);
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({1, 2}), false);
  EXPECT_NE(open_error(dir.str()).find("3 images"), std::string::npos);
  EXPECT_NE(open_error("/nonexistent/fmnist").find("does not exist"), std::string::npos);
}

TEST(IdxDataset, LabelOutsideTheTenClassesNamesTheFileTheImageAndTheValue) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(three_images(), 2, 3), false);
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({9, 10, 3}), false);
  const auto msg = open_error(dir.str());
  EXPECT_NE(msg.find("train-labels-idx1-ubyte': the label of image 1 is 10, outside 0..9"), std::string::npos) << msg;
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({0, 255, 3}), false);
  EXPECT_NE(open_error(dir.str()).find("image 1 is 255"), std::string::npos);
}

TEST(IdxDataset, ReadsTheInstalledFashionMnist) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  auto test = IdxDataset::open_folder(root, Split::kTest);
  EXPECT_EQ(test->size(), 10000u);
  EXPECT_EQ(test->num_classes(), 10);
  EXPECT_EQ(test->image_side(), 28);
}

}  // namespace
}  // namespace simclr::data

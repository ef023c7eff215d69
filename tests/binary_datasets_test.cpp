// The binary readers against files written here byte for byte in the
// published layouts (CIFAR-10/100 binary version, STL-10 binary).
#include "simclr/data/binary_datasets.h"

#include "test_util.h"

namespace simclr::data {
namespace {
using namespace simclr::testing;

// Pixel value that encodes its own position, so a layout mistake shows.
uint8_t code(int n, int c, int y, int x) { return static_cast<uint8_t>((n * 97 + c * 51 + y * 7 + x * 3) % 251); }

std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<uint8_t> b;
  for (size_t n = 0; n < labels.size(); ++n) {
    b.insert(b.end(), labels[n].begin(), labels[n].end());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(code(static_cast<int>(n), c, y, x));  // R plane, G plane, B plane
  }
  return b;
}

void expect_pixels(const cv::Mat& image, int n, int side) {
  ASSERT_EQ(image.rows, side);
  ASSERT_EQ(image.type(), CV_8UC3);
  for (int y = 0; y < side; y += 5)
    for (int x = 0; x < side; x += 3)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(image.at<cv::Vec3b>(y, x)[c], code(n, c, y, x)) << y << "," << x << "," << c;
}

TEST(Cifar10, ReadsTrainBatchesAndTestInPublishedLayout) {
  TempDir dir;
  for (int i = 1; i <= 5; ++i) write_bytes(dir / fmt::format("data_batch_{}.bin", i), cifar_records({{uint8_t(i)}}), false);
  write_bytes(dir / "test_batch.bin", cifar_records({{3}, {9}}), false);
  auto train = CifarDataset::open_folder(dir.str(), Split::kTrain, CifarLabel::kCifar10);
  ASSERT_EQ(train->size(), 5u);
  EXPECT_EQ(train->label(4), 5);
  auto test = CifarDataset::open_folder(dir.str(), Split::kTest, CifarLabel::kCifar10);
  ASSERT_EQ(test->size(), 2u);
  EXPECT_EQ(test->get(1).label, 9);
  expect_pixels(test->get(1).image, 1, 32);
  EXPECT_EQ(test->num_classes(), 10);
}

TEST(Cifar100, ReadsCoarseAndFineLabels) {
  TempDir dir;
  write_bytes(dir / "train.bin", cifar_records({{19, 99}, {4, 30}}), false);
  auto fine = CifarDataset::open_folder(dir.str(), Split::kTrain, CifarLabel::kCifar100Fine);
  auto coarse = CifarDataset::open_folder(dir.str(), Split::kTrain, CifarLabel::kCifar100Coarse);
  EXPECT_EQ(fine->label(0), 99);
  EXPECT_EQ(fine->label(1), 30);
  EXPECT_EQ(coarse->label(0), 19);
  EXPECT_EQ(coarse->num_classes(), 20);
  EXPECT_EQ(fine->num_classes(), 100);
  expect_pixels(fine->get(1).image, 1, 32);
}

TEST(Cifar, WrongSizeOrLabelsOrMissingFilesAreErrors) {
  TempDir dir;
  auto records = cifar_records({{1}, {2}});
  records.pop_back();
  write_bytes(dir / "test_batch.bin", records, false);
  auto msg = error_of([&] { CifarDataset::open_folder(dir.str(), Split::kTest, CifarLabel::kCifar10); });
  EXPECT_NE(msg.find("test_batch.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("multiple"), std::string::npos) << msg;
  write_bytes(dir / "test_batch.bin", cifar_records({{12}}), false);
  msg = error_of([&] { CifarDataset::open_folder(dir.str(), Split::kTest, CifarLabel::kCifar10); });
  EXPECT_NE(msg.find("label"), std::string::npos) << msg;
  // A CIFAR-100 record read as CIFAR-10 no longer divides the file evenly.
  write_bytes(dir / "test.bin", cifar_records({{1, 2}, {3, 4}, {5, 6}}), false);
  EXPECT_NE(error_of([&] { CifarDataset({dir / "test.bin"}, CifarLabel::kCifar10); }), "");
  EXPECT_NE(error_of([&] { CifarDataset::open_folder(dir.str(), Split::kTrain, CifarLabel::kCifar10); })
                .find("data_batch_1.bin"),
            std::string::npos);
}

TEST(Cifar100, CoarseOrFineLabelOutsideItsRangeIsAnError) {
  TempDir dir;
  write_bytes(dir / "test.bin", cifar_records({{19, 99}, {20, 5}}), false);
  auto msg = error_of([&] { CifarDataset({dir / "test.bin"}, CifarLabel::kCifar100Fine); });
  EXPECT_NE(msg.find("record 1 has a coarse label 20, outside 0..19"), std::string::npos) << msg;
  write_bytes(dir / "test.bin", cifar_records({{19, 99}, {0, 100}}), false);
  msg = error_of([&] { CifarDataset({dir / "test.bin"}, CifarLabel::kCifar100Coarse); });
  EXPECT_NE(msg.find("record 1 has a fine label 100, outside 0..99"), std::string::npos) << msg;
}

std::vector<uint8_t> stl_images(int count, int first) {
  // Column-major channel planes: byte = c*9216 + x*96 + y.
  std::vector<uint8_t> b(static_cast<size_t>(count) * 27648);
  for (int n = 0; n < count; ++n)
    for (int c = 0; c < 3; ++c)
      for (int x = 0; x < 96; ++x)
        for (int y = 0; y < 96; ++y) b[n * 27648 + c * 9216 + x * 96 + y] = code(first + n, c, y, x);
  return b;
}

TEST(Stl10, ReadsColumnMajorImagesLabelsAndUnlabeledSplit) {
  TempDir dir;
  write_bytes(dir / "train_X.bin", stl_images(2, 0), false);
  write_bytes(dir / "train_y.bin", {1, 10}, false);
  write_bytes(dir / "test_X.bin", stl_images(1, 5), false);
  write_bytes(dir / "test_y.bin", {4}, false);
  write_bytes(dir / "unlabeled_X.bin", stl_images(3, 2), false);
  auto train = Stl10Dataset::open_folder(dir.str(), Split::kTrain, false);
  ASSERT_EQ(train->size(), 2u);
  EXPECT_EQ(train->label(0), 0);  // published labels are 1..10
  EXPECT_EQ(train->label(1), 9);
  expect_pixels(train->get(1).image, 1, 96);
  auto test = Stl10Dataset::open_folder(dir.str(), Split::kTest, false);
  EXPECT_EQ(test->label(0), 3);
  expect_pixels(test->get(0).image, 5, 96);
  auto both = Stl10Dataset::open_folder(dir.str(), Split::kTrain, true);
  ASSERT_EQ(both->size(), 5u);
  EXPECT_EQ(both->label(2), -1);
  expect_pixels(both->get(4).image, 4, 96);
}

TEST(Stl10, MismatchedOrTruncatedFilesAreErrors) {
  TempDir dir;
  auto images = stl_images(2, 0);
  write_bytes(dir / "train_X.bin", images, false);
  write_bytes(dir / "train_y.bin", {1}, false);
  EXPECT_NE(error_of([&] { Stl10Dataset::open_folder(dir.str(), Split::kTrain, false); }).find("train_y.bin"),
            std::string::npos);
  write_bytes(dir / "train_y.bin", {1, 11}, false);
  EXPECT_NE(error_of([&] { Stl10Dataset::open_folder(dir.str(), Split::kTrain, false); }).find("outside 1..10"),
            std::string::npos);
  images.resize(images.size() - 100);
  write_bytes(dir / "train_X.bin", images, false);
  write_bytes(dir / "train_y.bin", {1, 2}, false);
  EXPECT_NE(error_of([&] { Stl10Dataset::open_folder(dir.str(), Split::kTrain, false); }).find("truncated"),
            std::string::npos);
  EXPECT_NE(error_of([&] { Stl10Dataset::open_folder(dir.str(), Split::kTrain, true); }).find("unlabeled_X.bin"),
            std::string::npos);
}

TEST(MappedFile, MissingFileIsAnErrorNamingIt) {
  EXPECT_NE(error_of([] { MappedFile f("/nonexistent/file.bin"); }).find("/nonexistent/file.bin"), std::string::npos);
}

}  // namespace
}  // namespace simclr::data

#include "simclr/data/csv_dataset.h"

#include <opencv2/imgcodecs.hpp>

#include "test_util.h"

namespace simclr::data {
namespace {
using namespace simclr::testing;

void write_png(const std::string& path, int side = 6) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  cv::imwrite(path, cv::Mat(side, side, CV_8UC3, cv::Scalar(10, 20, 30)));
}

TEST(CsvDataset, ClassNamesAreNumberedInSortedOrderAndPathsAreRelativeToTheCsv) {
  TempDir dir;
  write_png(dir / "img/a.png");
  write_png(dir / "img/b,with comma.png");
  write_png(dir / "c.png");
  std::ofstream(dir / "list.csv") << "path,label\nimg/a.png,zebra\nimg/b,with comma.png,ant\n" << dir / "c.png"
                                  << ",zebra\n\n";
  CsvDataset ds(dir / "list.csv");
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.label(0), 1);  // ant = 0, zebra = 1
  EXPECT_EQ(ds.label(1), 0);
  EXPECT_EQ(ds.num_classes(), 2);
  EXPECT_EQ(ds.image_side(), 6);
  EXPECT_EQ(ds.get(2).image.at<cv::Vec3b>(0, 0), cv::Vec3b(30, 20, 10));  // RGB
}

TEST(CsvDataset, NumericLabelsAndUnlabelledLists) {
  TempDir dir;
  write_png(dir / "a.png");
  write_png(dir / "b.png");
  std::ofstream(dir / "train.csv") << "a.png,7\nb.png,2\n";
  std::ofstream(dir / "test.csv") << "a.png\n";
  auto train = CsvDataset::open(dir.str(), Split::kTrain);
  EXPECT_EQ(train->label(0), 7);
  EXPECT_EQ(train->num_classes(), 8);
  auto test = CsvDataset::open(dir.str(), Split::kTest);
  EXPECT_EQ(test->label(0), -1);
}

TEST(CsvDataset, MissingFilesAndMixedLabelsAreErrorsNamingTheLine) {
  TempDir dir;
  write_png(dir / "a.png");
  std::ofstream(dir / "missing.csv") << "a.png,1\nnot_there.png,2\n";
  auto msg = error_of([&] { CsvDataset ds(dir / "missing.csv"); });
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not_there.png"), std::string::npos) << msg;
  std::ofstream(dir / "mixed.csv") << "a.png,1\na.png\n";
  EXPECT_NE(error_of([&] { CsvDataset ds(dir / "mixed.csv"); }).find("mixes"), std::string::npos);
  std::ofstream(dir / "empty.csv") << "path,label\n";
  EXPECT_NE(error_of([&] { CsvDataset ds(dir / "empty.csv"); }).find("names no images"), std::string::npos);
  EXPECT_NE(error_of([&] { CsvDataset::open(dir.str(), Split::kTrain); }).find("train.csv"), std::string::npos);
}

}  // namespace
}  // namespace simclr::data

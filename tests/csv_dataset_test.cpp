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

TEST(CsvDataset, ReadsRfc4180QuotingWithBomAndCrlf) {
  TempDir dir;
  write_png(dir / "img/a,b.png");
  write_png(dir / "q\"uote.png");
  write_png(dir / " padded .png");
  std::ofstream(dir / "list.csv", std::ios::binary)
      << "\xEF\xBB\xBF\"path\",label\r\n\"img/a,b.png\",cat\r\n\"q\"\"uote.png\", \"dog\" \r\n\" padded .png\",cat\r\n";
  CsvDataset ds(dir / "list.csv");
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.path(0), dir / "img/a,b.png");
  EXPECT_EQ(ds.path(1), dir / "q\"uote.png");
  EXPECT_EQ(ds.path(2), dir / " padded .png");  // spaces inside quotes are kept
  EXPECT_EQ(ds.label(0), 0);                    // cat
  EXPECT_EQ(ds.label(1), 1);                    // dog
  EXPECT_EQ(ds.num_classes(), 2);
}

TEST(CsvDataset, BadQuotingIsAnErrorNamingTheLine) {
  TempDir dir;
  write_png(dir / "a.png");
  std::ofstream(dir / "open.csv") << "a.png,1\n\"a.png,2\na.png,3\n";
  auto msg = error_of([&] { CsvDataset ds(dir / "open.csv"); });
  EXPECT_NE(msg.find("open.csv' line 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not closed"), std::string::npos) << msg;
  std::ofstream(dir / "after.csv") << "\"a.png\"x,1\n";
  msg = error_of([&] { CsvDataset ds(dir / "after.csv"); });
  EXPECT_NE(msg.find("after the closing quote"), std::string::npos) << msg;
  std::ofstream(dir / "three.csv") << "\"a.png\",1,2\n";
  msg = error_of([&] { CsvDataset ds(dir / "three.csv"); });
  EXPECT_NE(msg.find("3 fields"), std::string::npos) << msg;
}

TEST(CsvDataset, NegativeOrHugeNumericLabelsAreErrorsButGapsAreFine) {
  TempDir dir;
  write_png(dir / "a.png");
  write_png(dir / "b.png");
  std::ofstream(dir / "negative.csv") << "a.png,0\nb.png,-1\n";
  auto msg = error_of([&] { CsvDataset ds(dir / "negative.csv"); });
  EXPECT_NE(msg.find("line 2: label -1 is negative"), std::string::npos) << msg;
  std::ofstream(dir / "huge.csv") << "a.png,1000001\n";
  msg = error_of([&] { CsvDataset ds(dir / "huge.csv"); });
  EXPECT_NE(msg.find("label 1000001 is above 1000000"), std::string::npos) << msg;
  std::ofstream(dir / "overflow.csv") << "a.png,99999999999999999999999\n";  // beyond int64: still an Error
  msg = error_of([&] { CsvDataset ds(dir / "overflow.csv"); });
  EXPECT_NE(msg.find("is above 1000000"), std::string::npos) << msg;
  std::ofstream(dir / "sparse.csv") << "a.png,3\nb.png,1000000\n";
  CsvDataset sparse(dir / "sparse.csv");
  EXPECT_EQ(sparse.num_classes(), 1000001);
  EXPECT_EQ(sparse.label(0), 3);
}

TEST(CsvDataset, TestSplitIsNumberedAsTheTrainingSplit) {
  TempDir dir;
  for (const char* f : {"a.png", "b.png", "c.png"}) write_png(dir / f);
  std::ofstream(dir / "train.csv") << "a.png,cat\nb.png,dog\nc.png,emu\n";
  std::ofstream(dir / "test.csv") << "a.png,emu\nb.png,dog\n";  // alone it would number dog 0, emu 1
  auto test = CsvDataset::open(dir.str(), Split::kTest);
  EXPECT_EQ(test->label(0), 2);
  EXPECT_EQ(test->label(1), 1);
  EXPECT_EQ(test->num_classes(), 3);
  std::ofstream(dir / "test.csv") << "a.png,cat\nb.png,yak\n";
  auto msg = error_of([&] { CsvDataset::open(dir.str(), Split::kTest); });
  EXPECT_NE(msg.find("test.csv' line 2: class 'yak' does not appear in the training split"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("train.csv"), std::string::npos) << msg;
  std::ofstream(dir / "train.csv") << "a.png,0\nb.png,1\n";
  std::ofstream(dir / "test.csv") << "a.png,1\nb.png,2\n";
  msg = error_of([&] { CsvDataset::open(dir.str(), Split::kTest); });
  EXPECT_NE(msg.find("line 2: label 2 is not a class of the training split"), std::string::npos) << msg;
  EXPECT_NE(msg.find("labels 0..1"), std::string::npos) << msg;
}

}  // namespace
}  // namespace simclr::data

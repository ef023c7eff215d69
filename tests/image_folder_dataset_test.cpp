#include "simclr/data/image_folder_dataset.h"

#include <opencv2/imgcodecs.hpp>

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr::data {
namespace {
using testing::error_of;
using testing::TempDir;

void write_png(const std::string& path, cv::Vec3b bgr, int rows = 4, int cols = 5) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  cv::imwrite(path, cv::Mat(rows, cols, CV_8UC3, cv::Scalar(bgr[0], bgr[1], bgr[2])));
}

TEST(ImageFolder, ClassesSortedByNameAndLabelsFollow) {
  TempDir dir;
  write_png(dir / "zebra/a.png", {0, 0, 255});
  write_png(dir / "ant/b.png", {255, 0, 0});
  write_png(dir / "ant/a.PNG", {255, 0, 0});
  write_png(dir / "moth/x.jpg", {0, 255, 0});
  std::ofstream(dir / "moth/notes.txt") << "not an image";
  ImageFolderDataset ds(dir.str());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"ant", "moth", "zebra"}));
  ASSERT_EQ(ds.size(), 4u);  // notes.txt is not an image extension
  EXPECT_EQ(ds.label(0), 0);
  EXPECT_EQ(ds.label(2), 1);
  EXPECT_EQ(ds.label(3), 2);
  EXPECT_EQ(ds.channels(), 3);
  EXPECT_EQ(ds.image_side(), 4);
  // Decoded as RGB: the zebra image was written as pure red (BGR 0,0,255).
  const auto s = ds.get(3);
  EXPECT_EQ(s.image.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
}

TEST(ImageFolder, TrainAndTestSubfoldersSelectTheSplit) {
  TempDir dir;
  write_png(dir / "train/a/1.png", {1, 2, 3});
  write_png(dir / "train/b/1.png", {1, 2, 3});
  write_png(dir / "train/b/2.png", {1, 2, 3});
  write_png(dir / "test/a/1.png", {1, 2, 3});
  write_png(dir / "test/b/1.png", {1, 2, 3});
  EXPECT_EQ(ImageFolderDataset::open(dir.str(), Split::kTrain)->size(), 3u);
  EXPECT_EQ(ImageFolderDataset::open(dir.str(), Split::kTest)->size(), 2u);
}

TEST(ImageFolder, BadFilesGiveErrorsNamingThem) {
  TempDir dir;
  write_png(dir / "a/0good.png", {1, 2, 3});
  std::ofstream(dir / "a/empty.png").close();
  std::ofstream(dir / "a/text.jpg") << "this is not a jpeg";
  ImageFolderDataset ds(dir.str());
  ASSERT_EQ(ds.size(), 3u);
  // Sorted: 0good.png, empty.png, text.jpg
  auto msg = error_of([&] { ds.get(1); });
  EXPECT_NE(msg.find("empty.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos);
  msg = error_of([&] { ds.get(2); });
  EXPECT_NE(msg.find("text.jpg"), std::string::npos) << msg;
  EXPECT_NO_THROW(ds.get(0));
  // The first image sets the nominal side, so a bad first file fails at once.
  TempDir bad;
  std::filesystem::create_directories(bad / "a");
  std::ofstream(bad / "a/broken.png") << "garbage";
  EXPECT_NE(error_of([&] { ImageFolderDataset d(bad.str()); }).find("broken.png"), std::string::npos);
}

TEST(ImageFolder, EmptyClassOrMissingRootIsAnError) {
  TempDir dir;
  write_png(dir / "a/1.png", {1, 2, 3});
  std::filesystem::create_directories(dir / "b");
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(dir.str()); }).find("holds no"), std::string::npos);
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(dir / "missing"); }).find("does not exist"), std::string::npos);
  TempDir empty;
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(empty.str()); }).find("no class folders"), std::string::npos);
}

}  // namespace
}  // namespace simclr::data

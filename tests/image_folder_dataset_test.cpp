#include "simclr/data/image_folder_dataset.h"

#include <opencv2/imgcodecs.hpp>

#include <array>

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

TEST(ImageFolder, ReadsEveryFormatAndColourMode) {
  TempDir dir;
  std::filesystem::create_directories(dir / "a");
  const cv::Mat bgr(6, 7, CV_8UC3, cv::Scalar(30, 120, 210));
  // Lossless formats must give the exact pixels back, as RGB.
  for (const char* name : {"a/bmp.bmp", "a/tiff.tiff", "a/png.png", "a/webp.webp"}) {
    std::vector<int> params;
    if (std::string(name).find("webp") != std::string::npos) params = {cv::IMWRITE_WEBP_QUALITY, 101};  // lossless
    ASSERT_TRUE(cv::imwrite(dir / name, bgr, params)) << name;
  }
  cv::Mat bgra(6, 7, CV_8UC4, cv::Scalar(30, 120, 210, 0));  // fully transparent: alpha must be dropped
  ASSERT_TRUE(cv::imwrite(dir / "a/rgba.png", bgra));
  cv::Mat grey(6, 7, CV_8UC1, cv::Scalar(77));
  ASSERT_TRUE(cv::imwrite(dir / "a/grey.png", grey));
  cv::Mat deep(6, 7, CV_16UC3, cv::Scalar(30 * 257, 120 * 257, 210 * 257));  // 16 bits, scaled to 8
  ASSERT_TRUE(cv::imwrite(dir / "a/deep16.png", deep));
  ASSERT_TRUE(cv::imwrite(dir / "a/photo.JPEG", bgr, {cv::IMWRITE_JPEG_QUALITY, 100}));
  ImageFolderDataset ds(dir.str());
  ASSERT_EQ(ds.size(), 8u);
  for (size_t i = 0; i < ds.size(); ++i) {
    const std::string name = std::filesystem::path(ds.path(i)).filename().string();
    const cv::Mat im = ds.get(i).image;
    ASSERT_EQ(im.type(), CV_8UC3) << name;
    ASSERT_EQ(im.size(), cv::Size(7, 6)) << name;
    const cv::Vec3b px = im.at<cv::Vec3b>(3, 3);
    if (name == "grey.png") {
      EXPECT_EQ(px, cv::Vec3b(77, 77, 77));
    } else if (name == "photo.JPEG") {
      for (int k = 0; k < 3; ++k) EXPECT_NEAR(px[k], (std::array<int, 3>{210, 120, 30}[k]), 3) << name;
    } else {
      EXPECT_EQ(px, cv::Vec3b(210, 120, 30)) << name;
    }
  }
}

void write_jpeg(const std::string& path, int rows, int cols) {
  cv::Mat m(rows, cols, CV_8UC3);
  cv::randu(m, 0, 256);
  cv::imwrite(path, m);
}

TEST(ImageFolder, TruncatedAndCorruptFilesAreNamedNeverDecodedAsGarbage) {
  TempDir dir;
  std::filesystem::create_directories(dir / "a");
  write_jpeg(dir / "a/0good.jpg", 16, 16);
  std::vector<uint8_t> jpeg;
  cv::Mat m(64, 64, CV_8UC3);
  cv::randu(m, 0, 256);
  cv::imencode(".jpg", m, jpeg);
  std::ofstream(dir / "a/1truncated.jpg", std::ios::binary).write(reinterpret_cast<const char*>(jpeg.data()),
                                                                  static_cast<std::streamsize>(jpeg.size() / 2));
  std::vector<uint8_t> png;
  cv::imencode(".png", m, png);
  std::ofstream(dir / "a/2truncated.png", std::ios::binary).write(reinterpret_cast<const char*>(png.data()),
                                                                 static_cast<std::streamsize>(png.size() - 40));
  auto flipped = jpeg;  // a corrupt header: the start-of-frame marker destroyed
  for (size_t i = 2; i + 1 < flipped.size(); ++i) {
    if (flipped[i] == 0xFF && flipped[i + 1] == 0xC0) flipped[i + 1] = 0x01;
  }
  std::ofstream(dir / "a/3corrupt.jpg", std::ios::binary).write(reinterpret_cast<const char*>(flipped.data()),
                                                               static_cast<std::streamsize>(flipped.size()));
  ImageFolderDataset ds(dir.str());
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_NO_THROW(ds.get(0));
  for (size_t i = 1; i < 4; ++i) {
    const auto msg = error_of([&] { ds.get(i); });
    EXPECT_NE(msg.find(ds.path(i)), std::string::npos) << msg;
    EXPECT_NE(msg.find("on_bad_image: skip"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([&] { ds.get(1); }).find("truncated"), std::string::npos);
}

TEST(ImageFolder, SkipPolicyReplacesUnreadableFilesAndCountsThem) {
  TempDir dir;
  std::filesystem::create_directories(dir / "a");
  std::filesystem::create_directories(dir / "b");
  write_png(dir / "a/0.png", {1, 1, 1});
  std::ofstream(dir / "a/1.png").close();                  // zero bytes
  std::ofstream(dir / "a/2.jpg") << "<html>not found</html>";  // not an image
  write_png(dir / "b/0.png", {9, 9, 9});
  ImageFolderDataset ds(dir.str(), /*skip_unreadable=*/true);
  ASSERT_EQ(ds.size(), 4u);
  // Files 1 and 2 are replaced by the next readable file, b/0.png (label 1),
  // each logged and counted once however often they are asked for.
  for (int repeat = 0; repeat < 3; ++repeat) {
    for (size_t i : {1, 2}) {
      const auto s = ds.get(i);
      EXPECT_EQ(s.label, 1);
      EXPECT_EQ(s.image.at<cv::Vec3b>(0, 0), cv::Vec3b(9, 9, 9));
    }
  }
  EXPECT_EQ(ds.skipped(), 2u);
  EXPECT_EQ(ds.get(0).label, 0);
  // The same through the config: data.on_bad_image.
  config::DataConfig data;
  data.dataset = "imagefolder";
  data.path = dir.str();
  EXPECT_THROW(open_dataset(data, Split::kTrain)->get(1), Error);
  data.on_bad_image = "skip";
  EXPECT_EQ(open_dataset(data, Split::kTrain)->get(1).label, 1);
  // A first file that is unreadable is skipped too; all unreadable is an error.
  TempDir bad;
  std::filesystem::create_directories(bad / "a");
  std::ofstream(bad / "a/0.png") << "x";
  std::ofstream(bad / "a/1.png") << "y";
  EXPECT_NE(error_of([&] { ImageFolderDataset d(bad.str(), true); }).find("none of its 2 images"), std::string::npos);
}

TEST(ImageFolder, OnePixelAndHugeImagesDecode) {
  TempDir dir;
  std::filesystem::create_directories(dir / "a");
  write_png(dir / "a/tiny.png", {5, 6, 7}, 1, 1);
  // 10000 x 10000 of one colour: 300 MB decoded, a few hundred KB as PNG.
  cv::imwrite(dir / "a/zhuge.png", cv::Mat(10000, 10000, CV_8UC3, cv::Scalar(5, 6, 7)));
  ImageFolderDataset ds(dir.str());
  EXPECT_EQ(ds.image_side(), 1);
  EXPECT_EQ(ds.get(0).image.size(), cv::Size(1, 1));
  const cv::Mat huge = ds.get(1).image;
  EXPECT_EQ(huge.size(), cv::Size(10000, 10000));
  EXPECT_EQ(huge.at<cv::Vec3b>(9999, 9999), cv::Vec3b(7, 6, 5));
}

TEST(ImageFolder, AFlatFolderOfImagesIsUnlabeled) {
  TempDir dir;
  write_png(dir / "b.png", {1, 2, 3});
  write_png(dir / "a.png", {4, 5, 6});
  std::ofstream(dir / "readme.txt") << "not an image";
  ImageFolderDataset ds(dir.str());
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.num_classes(), 0);
  EXPECT_EQ(ds.label(0), -1);
  EXPECT_EQ(ds.get(1).label, -1);
  EXPECT_NE(ds.source(0).find("a.png"), std::string::npos);  // sorted by path
}

TEST(ImageFolder, EmptyClassOrMissingRootIsAnError) {
  TempDir dir;
  write_png(dir / "a/1.png", {1, 2, 3});
  std::filesystem::create_directories(dir / "b");
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(dir.str()); }).find("holds no"), std::string::npos);
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(dir / "missing"); }).find("does not exist"), std::string::npos);
  TempDir empty;
  EXPECT_NE(error_of([&] { ImageFolderDataset ds(empty.str()); }).find("neither class folders nor images"),
            std::string::npos);
}

}  // namespace
}  // namespace simclr::data

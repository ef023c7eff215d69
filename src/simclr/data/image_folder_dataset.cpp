#include "simclr/data/image_folder_dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "simclr/core/error.h"

namespace simclr::data {
namespace fs = std::filesystem;
namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

}  // namespace

cv::Mat decode_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SIMCLR_CHECK(in.good(), "cannot open image '{}': missing or not readable", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  SIMCLR_CHECK(!bytes.empty(), "cannot decode image '{}': the file is empty; remove or replace it", path);
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("cannot decode image '{}': {}; remove or replace it", path, e.what()));
  }
  SIMCLR_CHECK(!bgr.empty() && bgr.rows > 0 && bgr.cols > 0,
               "cannot decode image '{}': not a valid JPEG or PNG file (corrupt or wrong extension); remove or replace it",
               path);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

ImageFolderDataset::ImageFolderDataset(const std::string& root) : root_(root) {
  SIMCLR_CHECK(fs::is_directory(root), "image folder '{}' does not exist; pass --data with a folder of class folders",
               root);
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  }
  std::sort(classes_.begin(), classes_.end());
  SIMCLR_CHECK(!classes_.empty(), "image folder '{}' has no class folders; expected root/<class>/<image>.jpg", root);
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / classes_[c])) {
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path().string());
    }
    SIMCLR_CHECK(!files.empty(), "class folder '{}' holds no .jpg, .jpeg or .png files; add images or remove the folder",
                 (fs::path(root) / classes_[c]).string());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      files_.push_back(std::move(f));
      labels_.push_back(static_cast<int64_t>(c));
    }
  }
  // The nominal side comes from the first image; images of other sizes are
  // resized by the augmentation or evaluation transform.
  const cv::Mat first = decode_image(files_.front());
  side_ = std::min(first.rows, first.cols);
}

std::shared_ptr<ImageFolderDataset> ImageFolderDataset::open(const std::string& root, Split split) {
  const fs::path sub = fs::path(root) / (split == Split::kTrain ? "train" : "test");
  if (fs::is_directory(sub) && fs::is_directory(fs::path(root) / "train") && fs::is_directory(fs::path(root) / "test")) {
    return std::make_shared<ImageFolderDataset>(sub.string());
  }
  return std::make_shared<ImageFolderDataset>(root);
}

Sample ImageFolderDataset::get(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range for '{}' ({} images)", index, root_, size());
  return {decode_image(files_[index]), labels_[index]};
}

std::string ImageFolderDataset::describe() const {
  return fmt::format("ImageFolder '{}': {} images, {} classes, first image side {}", root_, size(), classes_.size(),
                     side_);
}

}  // namespace simclr::data

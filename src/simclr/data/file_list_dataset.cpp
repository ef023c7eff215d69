#include "simclr/data/file_list_dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "simclr/core/error.h"

namespace simclr::data {

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

void FileListDataset::set_files(std::vector<std::string> files, std::vector<int64_t> labels, int64_t num_classes) {
  TORCH_INTERNAL_ASSERT(files.size() == labels.size() && !files.empty());
  files_ = std::move(files);
  labels_ = std::move(labels);
  num_classes_ = num_classes;
  const cv::Mat first = decode_image(files_.front());
  side_ = std::min(first.rows, first.cols);
}

Sample FileListDataset::get(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range for '{}' ({} images)", index, source_, size());
  return {decode_image(files_[index]), labels_[index]};
}

std::string FileListDataset::describe() const {
  return fmt::format("{} '{}': {} images, {} classes, first image side {}", kind_, source_, size(), num_classes_,
                     side_);
}

}  // namespace simclr::data

#include "simclr/data/file_list_dataset.h"

#include <c10/util/Exception.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include <spdlog/spdlog.h>

#include "simclr/core/error.h"

namespace simclr::data {

namespace {

// libjpeg decodes a truncated JPEG without an error, filling the missing rows
// with grey: silent garbage. A complete baseline or progressive JPEG has an
// end-of-image marker (FF D9) after its last start-of-scan (FF DA); neither
// byte pair can occur inside entropy-coded data (FF is stuffed as FF 00).
bool jpeg_is_complete(const std::vector<uint8_t>& b) {
  size_t last_sos = std::string::npos;
  for (size_t i = 0; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xDA) last_sos = i;
  }
  if (last_sos == std::string::npos) return false;
  for (size_t i = last_sos + 2; i + 1 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"};
  return extensions;
}

cv::Mat decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name) {
  SIMCLR_CHECK(!bytes.empty(), "cannot decode image '{}': the file is empty; remove or replace it", name);
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  SIMCLR_CHECK(!jpeg || jpeg_is_complete(bytes),
               "cannot decode image '{}': the JPEG data is truncated (no end-of-image marker); remove or replace it",
               name);
  cv::Mat bgr;
  try {
    // IMREAD_COLOR: grey becomes RGB, alpha is dropped, 16 bits are scaled to 8.
    bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("cannot decode image '{}': {}; remove or replace it", name, e.what()));
  }
  SIMCLR_CHECK(!bgr.empty() && bgr.rows > 0 && bgr.cols > 0,
               "cannot decode image '{}': not a readable JPEG, PNG, BMP, WebP or TIFF file (corrupt, truncated or wrong "
               "extension); remove or replace it",
               name);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat decode_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  SIMCLR_CHECK(in.good(), "cannot open image '{}': missing or not readable", path);
  const std::streamoff size = in.tellg();
  SIMCLR_CHECK(size >= 0, "cannot read image '{}': not a regular file", path);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  SIMCLR_CHECK(in.gcount() == size, "cannot read image '{}': read {} of {} bytes", path, in.gcount(), size);
  return decode_image_bytes(bytes, path);
}

void FileListDataset::set_files(std::vector<std::string> files, std::vector<int64_t> labels, int64_t num_classes) {
  TORCH_INTERNAL_ASSERT(files.size() == labels.size() && !files.empty());
  files_ = std::move(files);
  labels_ = std::move(labels);
  num_classes_ = num_classes;
  bad_ = std::make_unique<std::atomic<bool>[]>(files_.size());
  for (size_t i = 0; i < files_.size(); ++i) bad_[i] = false;
  const cv::Mat first = get(0).image;
  side_ = std::min(first.rows, first.cols);
}

Sample FileListDataset::get(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range for '{}' ({} images)", index, source_, size());
  if (!skip_unreadable_) {
    try {
      return {decode_image(files_[index]), labels_[index]};
    } catch (const Error& e) {
      throw Error(fmt::format("{} (or set data.on_bad_image: skip to skip unreadable files)", e.what()));
    }
  }
  return get_or_skip(index);
}

Sample FileListDataset::get_or_skip(size_t index) const {
  const size_t n = size();
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (index + k) % n;
    if (bad_[i].load(std::memory_order_relaxed)) continue;
    try {
      return {decode_image(files_[i]), labels_[i]};
    } catch (const Error& e) {
      if (!bad_[i].exchange(true)) spdlog::warn("skipping unreadable image #{}: {}", ++skipped_, e.what());
    }
  }
  throw Error(fmt::format("{} '{}': none of its {} images can be read", kind_, source_, n));
}

std::string FileListDataset::describe() const {
  return fmt::format("{} '{}': {} images, {} classes, first image side {}{}", kind_, source_, size(), num_classes_,
                     side_, skip_unreadable_ ? ", unreadable files skipped" : "");
}

}  // namespace simclr::data

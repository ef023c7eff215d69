#include "simclr/data/idx_dataset.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>

#include "simclr/core/error.h"

namespace simclr::data {
namespace {

constexpr int kIdxClasses = 10;

uint32_t read_be32(const std::vector<uint8_t>& b, size_t offset) {
  return (uint32_t(b[offset]) << 24) | (uint32_t(b[offset + 1]) << 16) | (uint32_t(b[offset + 2]) << 8) |
         uint32_t(b[offset + 3]);
}

std::string find_file(const std::string& root, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const auto& name : {stem + ".gz", stem}) {
    if (fs::exists(fs::path(root) / name)) return (fs::path(root) / name).string();
  }
  throw Error(fmt::format(
      "IDX dataset folder '{}' has no '{}' or '{}.gz'; point --data at the folder holding the four MNIST/"
      "Fashion-MNIST files (apt-get install dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist)",
      root, stem, stem));
}

}  // namespace

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  SIMCLR_CHECK(std::filesystem::is_regular_file(path), "cannot read '{}': no such file", path);
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  SIMCLR_CHECK(f != nullptr, "cannot open '{}': permission denied or not a file", path);
  gzbuffer(f, 1 << 18);
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 16);
  while (true) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string msg = gzerror(f, &code);
      gzclose(f);
      throw Error(fmt::format("cannot read '{}': corrupt gzip data ({}); re-download or re-install the file", path, msg));
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  int code = 0;
  const std::string msg = gzerror(f, &code);
  gzclose(f);
  SIMCLR_CHECK(code == Z_OK || code == Z_STREAM_END, "cannot read '{}': truncated or corrupt gzip data ({})", path, msg);
  return out;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path) : images_path_(images_path) {
  pixels_ = read_maybe_gzip(images_path);
  labels_ = read_maybe_gzip(labels_path);
  SIMCLR_CHECK(pixels_.size() >= 16 && read_be32(pixels_, 0) == 0x00000803,
               "'{}' is not an IDX image file (expected magic number 0x00000803 for 3-D uint8 data)", images_path);
  SIMCLR_CHECK(labels_.size() >= 8 && read_be32(labels_, 0) == 0x00000801,
               "'{}' is not an IDX label file (expected magic number 0x00000801 for 1-D uint8 data)", labels_path);
  const uint64_t count = read_be32(pixels_, 4);
  const uint64_t rows = read_be32(pixels_, 8), cols = read_be32(pixels_, 12);
  const uint64_t label_count = read_be32(labels_, 4);
  SIMCLR_CHECK(rows > 0 && cols > 0 && rows <= 65536 && cols <= 65536, "'{}': implausible image size {}x{}", images_path,
               rows, cols);
  SIMCLR_CHECK(pixels_.size() - 16 == count * rows * cols,
               "'{}' is truncated or has trailing data: header says {} images of {}x{} ({} bytes) but the body has {} "
               "bytes",
               images_path, count, rows, cols, count * rows * cols, pixels_.size() - 16);
  SIMCLR_CHECK(labels_.size() - 8 == label_count,
               "'{}' is truncated or has trailing data: header says {} labels but the body has {} bytes", labels_path,
               label_count, labels_.size() - 8);
  SIMCLR_CHECK(count == label_count, "'{}' has {} images but '{}' has {} labels; use files from the same split",
               images_path, count, labels_path, label_count);
  SIMCLR_CHECK(count > 0, "'{}' holds no images", images_path);
  pixels_.erase(pixels_.begin(), pixels_.begin() + 16);
  labels_.erase(labels_.begin(), labels_.begin() + 8);
  rows_ = static_cast<int>(rows);
  cols_ = static_cast<int>(cols);
  // MNIST and Fashion-MNIST have 10 classes; a larger byte is damage (or
  // another IDX dataset) and would size the classifier from garbage.
  const auto bad = std::find_if(labels_.begin(), labels_.end(), [](uint8_t y) { return y >= kIdxClasses; });
  SIMCLR_CHECK(bad == labels_.end(),
               "'{}': the label of image {} is {}, outside 0..{} (MNIST and Fashion-MNIST have {} classes); the file "
               "is damaged or not an MNIST/Fashion-MNIST label file: re-download or re-install it",
               labels_path, bad - labels_.begin(), *bad, kIdxClasses - 1, kIdxClasses);
  num_classes_ = *std::max_element(labels_.begin(), labels_.end()) + 1;
}

std::shared_ptr<IdxDataset> IdxDataset::open_folder(const std::string& root, Split split) {
  SIMCLR_CHECK(std::filesystem::is_directory(root),
               "dataset folder '{}' does not exist; pass --data with the folder holding the IDX files", root);
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  return std::make_shared<IdxDataset>(find_file(root, prefix + "-images-idx3-ubyte"),
                                      find_file(root, prefix + "-labels-idx1-ubyte"));
}

Sample IdxDataset::get(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range for '{}' ({} samples)", index, images_path_, size());
  const size_t n = static_cast<size_t>(rows_) * cols_;
  cv::Mat image(rows_, cols_, CV_8UC1);
  std::copy_n(pixels_.data() + index * n, n, image.data);
  return {image, labels_[index]};
}

std::string IdxDataset::describe() const {
  return fmt::format("IDX '{}': {} images {}x{} grey, {} classes", images_path_, size(), rows_, cols_, num_classes_);
}

}  // namespace simclr::data

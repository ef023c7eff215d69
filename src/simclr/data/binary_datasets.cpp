#include "simclr/data/binary_datasets.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "simclr/core/error.h"

namespace simclr::data {
namespace fs = std::filesystem;
namespace {

constexpr size_t kCifarPixels = 3 * 32 * 32;
constexpr size_t kStlSide = 96, kStlPixels = 3 * kStlSide * kStlSide;

std::string require_file(const std::string& root, const std::string& name, const std::string& format) {
  const auto path = (fs::path(root) / name).string();
  SIMCLR_CHECK(fs::is_regular_file(path), "{} folder '{}' has no '{}'; point --data at the folder holding the {} binary files",
               format, root, name, format);
  return path;
}

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  SIMCLR_CHECK(fd >= 0, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("cannot read '{}': not a regular file", path));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      throw Error(fmt::format("cannot map '{}': {}", path, reason));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

CifarDataset::CifarDataset(const std::vector<std::string>& files, CifarLabel label)
    : label_(label), label_bytes_(label == CifarLabel::kCifar10 ? 1 : 2) {
  const size_t record = label_bytes_ + kCifarPixels;
  for (const auto& path : files) {
    auto file = std::make_unique<MappedFile>(path);
    SIMCLR_CHECK(file->size() > 0 && file->size() % record == 0,
                 "'{}' is not a CIFAR-{} binary file: its size {} is not a multiple of the {}-byte record (truncated, "
                 "or the other CIFAR version)",
                 path, label_ == CifarLabel::kCifar10 ? "10" : "100", file->size(), record);
    const uint32_t f = static_cast<uint32_t>(files_.size());
    const size_t n = file->size() / record;
    const uint8_t* data = file->data();
    // Label bytes: CIFAR-10 <class < 10>; CIFAR-100 <coarse < 20><fine < 100>.
    const std::vector<int> limits = label_bytes_ == 1 ? std::vector<int>{10} : std::vector<int>{20, 100};
    for (size_t r = 0; r < n; ++r) {
      const uint8_t* rec = data + r * record;
      for (size_t b = 0; b < label_bytes_; ++b) {
        SIMCLR_CHECK(rec[b] < limits[b],
                     "'{}' record {} has {} label {}, outside 0..{}: not a CIFAR-{} binary file, or a damaged one; "
                     "re-download it",
                     path, r, label_bytes_ == 1 ? "a" : (b == 0 ? "a coarse" : "a fine"), rec[b], limits[b] - 1,
                     label_ == CifarLabel::kCifar10 ? "10" : "100");
      }
      index_.emplace_back(f, static_cast<uint32_t>(r));
    }
    files_.push_back(std::move(file));
  }
  SIMCLR_CHECK(!index_.empty(), "no CIFAR files were given");
}

std::shared_ptr<CifarDataset> CifarDataset::open_folder(const std::string& root, Split split, CifarLabel label) {
  SIMCLR_CHECK(fs::is_directory(root), "dataset folder '{}' does not exist; pass --data with the folder of the binary files",
               root);
  std::vector<std::string> files;
  if (label == CifarLabel::kCifar10) {
    if (split == Split::kTest) {
      files.push_back(require_file(root, "test_batch.bin", "CIFAR-10"));
    } else {
      for (int i = 1; i <= 5; ++i) files.push_back(require_file(root, fmt::format("data_batch_{}.bin", i), "CIFAR-10"));
    }
  } else {
    files.push_back(require_file(root, split == Split::kTest ? "test.bin" : "train.bin", "CIFAR-100"));
  }
  return std::make_shared<CifarDataset>(files, label);
}

const uint8_t* CifarDataset::record(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range ({} samples)", index, size());
  const auto [f, r] = index_[index];
  return files_[f]->data() + static_cast<size_t>(r) * (label_bytes_ + kCifarPixels);
}

std::string CifarDataset::source(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range ({} samples)", index, size());
  return files_[index_[index].first]->path() + "#" + std::to_string(index_[index].second);
}

int64_t CifarDataset::label(size_t index) const {
  const uint8_t* rec = record(index);
  return label_ == CifarLabel::kCifar100Coarse ? rec[0] : rec[label_bytes_ - 1];
}

int64_t CifarDataset::num_classes() const {
  return label_ == CifarLabel::kCifar10 ? 10 : (label_ == CifarLabel::kCifar100Coarse ? 20 : 100);
}

Sample CifarDataset::get(size_t index) const {
  const uint8_t* pixels = record(index) + label_bytes_;
  cv::Mat image(32, 32, CV_8UC3);
  for (int y = 0; y < 32; ++y) {
    auto* row = image.ptr<cv::Vec3b>(y);
    for (int x = 0; x < 32; ++x) {
      for (int c = 0; c < 3; ++c) row[x][c] = pixels[c * 1024 + y * 32 + x];
    }
  }
  return {image, label(index)};
}

std::string CifarDataset::describe() const {
  return fmt::format("CIFAR-{} binary ({} files, first '{}'): {} images 32x32 RGB, {} classes",
                     label_ == CifarLabel::kCifar10 ? "10" : "100", files_.size(), files_.front()->path(), size(),
                     num_classes());
}

Stl10Dataset::Stl10Dataset(const std::vector<std::string>& images, const std::vector<std::string>& labels) {
  SIMCLR_CHECK(!images.empty(), "no STL-10 image files were given");
  for (size_t f = 0; f < images.size(); ++f) {
    auto x = std::make_unique<MappedFile>(images[f]);
    SIMCLR_CHECK(x->size() > 0 && x->size() % kStlPixels == 0,
                 "'{}' is not an STL-10 image file: its size {} is not a multiple of {} bytes (96x96x3); truncated?",
                 images[f], x->size(), kStlPixels);
    const size_t n = x->size() / kStlPixels;
    std::unique_ptr<MappedFile> y;
    if (f < labels.size() && !labels[f].empty()) {
      y = std::make_unique<MappedFile>(labels[f]);
      SIMCLR_CHECK(y->size() == n, "'{}' has {} labels but '{}' has {} images; use files of the same split", labels[f],
                   y->size(), images[f], n);
      for (size_t i = 0; i < n; ++i) {
        SIMCLR_CHECK(y->data()[i] >= 1 && y->data()[i] <= 10,
                     "'{}' label {} is {}, outside 1..10: not an STL-10 label file, or a damaged one; re-download it",
                     labels[f], i, y->data()[i]);
      }
    }
    for (size_t i = 0; i < n; ++i) index_.emplace_back(static_cast<uint32_t>(f), static_cast<uint32_t>(i));
    images_.push_back(std::move(x));
    labels_.push_back(std::move(y));
  }
}

std::shared_ptr<Stl10Dataset> Stl10Dataset::open_folder(const std::string& root, Split split, bool with_unlabeled) {
  SIMCLR_CHECK(fs::is_directory(root), "dataset folder '{}' does not exist; pass --data with the stl10_binary folder",
               root);
  const std::string prefix = split == Split::kTest ? "test" : "train";
  std::vector<std::string> images = {require_file(root, prefix + "_X.bin", "STL-10")};
  std::vector<std::string> labels = {require_file(root, prefix + "_y.bin", "STL-10")};
  if (split == Split::kTrain && with_unlabeled) {
    images.push_back(require_file(root, "unlabeled_X.bin", "STL-10"));
    labels.push_back("");
  }
  return std::make_shared<Stl10Dataset>(images, labels);
}

int64_t Stl10Dataset::label(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range ({} samples)", index, size());
  const auto [f, i] = index_[index];
  return labels_[f] ? labels_[f]->data()[i] - 1 : -1;
}

Sample Stl10Dataset::get(size_t index) const {
  const int64_t y = label(index);
  const auto [f, i] = index_[index];
  const uint8_t* pixels = images_[f]->data() + static_cast<size_t>(i) * kStlPixels;
  cv::Mat image(kStlSide, kStlSide, CV_8UC3);
  for (size_t r = 0; r < kStlSide; ++r) {
    auto* row = image.ptr<cv::Vec3b>(static_cast<int>(r));
    for (size_t x = 0; x < kStlSide; ++x) {
      for (size_t c = 0; c < 3; ++c) row[x][c] = pixels[c * kStlSide * kStlSide + x * kStlSide + r];
    }
  }
  return {image, y};
}

std::string Stl10Dataset::source(size_t index) const {
  SIMCLR_CHECK(index < size(), "sample index {} out of range ({} samples)", index, size());
  return images_[index_[index].first]->path() + "#" + std::to_string(index_[index].second);
}

std::string Stl10Dataset::describe() const {
  return fmt::format("STL-10 binary ('{}'{}): {} images 96x96 RGB, 10 classes", images_.front()->path(),
                     images_.size() > 1 ? " + unlabeled" : "", size());
}

}  // namespace simclr::data

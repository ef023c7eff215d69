// Fixed-record binary image formats, memory-mapped so that opening even
// STL-10's 2.7 GB unlabeled file costs nothing and samples are read on demand.
//
// CIFAR-10 binary version: records of <1 label byte><3072 pixel bytes>, the
//   pixels as 1024 red, 1024 green, 1024 blue bytes, each 32x32 row-major;
//   data_batch_1..5.bin (train), test_batch.bin (test).
// CIFAR-100 binary version: <coarse label><fine label><3072 pixel bytes>;
//   train.bin and test.bin.
// STL-10 binary: train_X.bin / test_X.bin / unlabeled_X.bin hold 96x96x3
//   images stored as in the published Matlab layout, channel planes that are
//   column-major (byte = c*9216 + x*96 + y); train_y.bin / test_y.bin hold
//   labels 1..10, one byte each.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

// A read-only memory-mapped file. Throws simclr::Error naming the path.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

enum class CifarLabel { kCifar10, kCifar100Fine, kCifar100Coarse };

class CifarDataset : public Dataset {
 public:
  CifarDataset(const std::vector<std::string>& files, CifarLabel label);
  // `root` holds the binary files (cifar-10-batches-bin or cifar-100-binary).
  static std::shared_ptr<CifarDataset> open_folder(const std::string& root, Split split, CifarLabel label);

  size_t size() const override { return index_.size(); }
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override;
  int64_t num_classes() const override;
  int channels() const override { return 3; }
  int image_side() const override { return 32; }
  std::string describe() const override;
  std::string source(size_t index) const override;

 private:
  const uint8_t* record(size_t index) const;
  CifarLabel label_;
  size_t label_bytes_;
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::vector<std::pair<uint32_t, uint32_t>> index_;  // (file, record)
};

class Stl10Dataset : public Dataset {
 public:
  // `labels` may be empty for the unlabeled split (labels are then -1).
  Stl10Dataset(const std::vector<std::string>& images, const std::vector<std::string>& labels);
  // Split kTrain reads train_X/train_y; kTest test_X/test_y. With
  // `with_unlabeled`, the training split also holds unlabeled_X.bin.
  static std::shared_ptr<Stl10Dataset> open_folder(const std::string& root, Split split, bool with_unlabeled);

  size_t size() const override { return index_.size(); }
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override;
  int64_t num_classes() const override { return 10; }
  int channels() const override { return 3; }
  int image_side() const override { return 96; }
  std::string describe() const override;
  std::string source(size_t index) const override;

 private:
  std::vector<std::unique_ptr<MappedFile>> images_, labels_;  // labels_[f] null when unlabeled
  std::vector<std::pair<uint32_t, uint32_t>> index_;
};

}  // namespace simclr::data

// MNIST / Fashion-MNIST in the IDX format (LeCun et al.), plain or gzip.
// Layout: big-endian magic 0x00000803 (images: count, rows, cols, then
// uint8 pixels) and 0x00000801 (labels: count, then uint8 labels).
#pragma once
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

class IdxDataset : public Dataset {
 public:
  // Reads `images_path` and `labels_path` (each may end in .gz).
  IdxDataset(const std::string& images_path, const std::string& labels_path);

  // Opens `<root>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
  static std::shared_ptr<IdxDataset> open_folder(const std::string& root, Split split);

  size_t size() const override { return labels_.size(); }
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override { return labels_.at(index); }
  int64_t num_classes() const override { return num_classes_; }
  int channels() const override { return 1; }
  int image_side() const override { return rows_; }
  std::string describe() const override;
  std::string source(size_t index) const override { return images_path_ + "#" + std::to_string(index); }

 private:
  std::string images_path_;
  int rows_ = 0, cols_ = 0;
  int64_t num_classes_ = 0;
  std::vector<uint8_t> pixels_;  // raw bytes; decoding an IDX image is a copy
  std::vector<uint8_t> labels_;
};

// Reads a whole file, transparently gunzipping it when it is gzip. Throws
// simclr::Error with the path on a missing, unreadable or corrupt file.
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

}  // namespace simclr::data

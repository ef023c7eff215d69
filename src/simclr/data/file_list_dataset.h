// Datasets that are a list of image files with labels (ImageFolder, CSV
// lists). Subclasses only build the list; this class decodes one file per
// get() call and takes the nominal side from the first image.
//
// An unreadable file (empty, truncated, corrupt, not an image) either stops
// the run with its path (the default) or, with skip_unreadable, is replaced by
// the next readable file in the list, logged once with its path and counted.
// Replacement depends only on the index, so batches stay independent of the
// number of loader threads.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

// Decodes one image file (JPEG, PNG, BMP, WebP, TIFF; grey, RGB, RGBA with
// the alpha dropped, 8 or 16 bits scaled to 8) to 8-bit RGB; throws
// simclr::Error naming the file when it is empty, truncated or not an image.
cv::Mat decode_image(const std::string& path);
// The same for bytes in memory; `name` is used in messages.
cv::Mat decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& name);

// File extensions (lower case, with the dot) that ImageFolder picks up.
const std::vector<std::string>& image_extensions();

class FileListDataset : public Dataset {
 public:
  size_t size() const override { return files_.size(); }
  // Decodes the image as RGB; throws simclr::Error naming the file if it is
  // empty, unreadable or not an image.
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override { return labels_.at(index); }
  int64_t num_classes() const override { return num_classes_; }
  int channels() const override { return 3; }
  int image_side() const override { return side_; }
  std::string describe() const override;
  const std::string& path(size_t index) const { return files_.at(index); }
  std::string source(size_t index) const override { return files_.at(index); }
  // Files found unreadable so far (only with skip_unreadable).
  size_t skipped() const { return skipped_.load(); }

 protected:
  // `kind` and `source` name the dataset in logs and errors ("CSV list", path).
  FileListDataset(std::string kind, std::string source, bool skip_unreadable)
      : kind_(std::move(kind)), source_(std::move(source)), skip_unreadable_(skip_unreadable) {}
  // Sets the list (labels -1 for unlabeled) and decodes the first image for
  // the nominal side, so a bad first file fails at once.
  void set_files(std::vector<std::string> files, std::vector<int64_t> labels, int64_t num_classes);

 private:
  Sample get_or_skip(size_t index) const;

  std::string kind_, source_;
  bool skip_unreadable_ = false;
  std::unique_ptr<std::atomic<bool>[]> bad_;  // per file: known unreadable
  mutable std::atomic<size_t> skipped_{0};
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  int64_t num_classes_ = 0;
  int side_ = 0;
};

}  // namespace simclr::data

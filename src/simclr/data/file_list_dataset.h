// Datasets that are a list of image files with labels (ImageFolder, CSV
// lists). Subclasses only build the list; this class decodes one file per
// get() call and takes the nominal side from the first image.
#pragma once
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

// Decodes one image file to 8-bit RGB; throws simclr::Error naming the file.
cv::Mat decode_image(const std::string& path);

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

 protected:
  // `kind` and `source` name the dataset in logs and errors ("CSV list", path).
  FileListDataset(std::string kind, std::string source) : kind_(std::move(kind)), source_(std::move(source)) {}
  // Sets the list (labels -1 for unlabeled) and decodes the first image for
  // the nominal side, so a bad first file fails at once.
  void set_files(std::vector<std::string> files, std::vector<int64_t> labels, int64_t num_classes);

 private:
  std::string kind_, source_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  int64_t num_classes_ = 0;
  int side_ = 0;
};

}  // namespace simclr::data

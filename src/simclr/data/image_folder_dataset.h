// torchvision-style ImageFolder: root/<class>/<image>, classes sorted by
// name, files sorted by path. Given a root that holds train/ and test/, the
// split picks one; otherwise the root itself is used for both splits.
#pragma once
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

class ImageFolderDataset : public Dataset {
 public:
  explicit ImageFolderDataset(const std::string& root);
  static std::shared_ptr<ImageFolderDataset> open(const std::string& root, Split split);

  size_t size() const override { return files_.size(); }
  // Decodes the image as RGB; throws simclr::Error naming the file if it is
  // empty, unreadable or not an image.
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override { return labels_.at(index); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  int channels() const override { return 3; }
  int image_side() const override { return side_; }
  std::string describe() const override;
  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& path(size_t index) const { return files_.at(index); }

 private:
  std::string root_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  int side_ = 0;
};

// Decodes one image file to 8-bit RGB; throws simclr::Error naming the file.
cv::Mat decode_image(const std::string& path);

}  // namespace simclr::data

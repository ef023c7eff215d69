// A folder of images without class folders is read as unlabeled images
// (label -1), for pretraining and embedding.
// torchvision-style ImageFolder: root/<class>/<image>, classes sorted by
// name, files (any of image_extensions(), case-insensitive, in nested
// folders too) sorted by path. Given a root that holds train/ and test/, the
// split picks one; otherwise the root itself is used for both splits.
#pragma once
#include <string>
#include <vector>

#include "simclr/data/file_list_dataset.h"

namespace simclr::data {

class ImageFolderDataset : public FileListDataset {
 public:
  explicit ImageFolderDataset(const std::string& root, bool skip_unreadable = false);
  static std::shared_ptr<ImageFolderDataset> open(const std::string& root, Split split, bool skip_unreadable = false);
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<std::string> classes_;
};

}  // namespace simclr::data

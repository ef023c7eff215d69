#include "simclr/data/image_folder_dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"

namespace simclr::data {
namespace fs = std::filesystem;
namespace {

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto& known = image_extensions();
  return std::find(known.begin(), known.end(), ext) != known.end();
}

}  // namespace

ImageFolderDataset::ImageFolderDataset(const std::string& root, bool skip_unreadable)
    : FileListDataset("ImageFolder", root, skip_unreadable) {
  SIMCLR_CHECK(fs::is_directory(root), "image folder '{}' does not exist; pass --data with a folder of class folders",
               root);
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  }
  std::sort(classes_.begin(), classes_.end());
  std::vector<std::string> all_files;
  std::vector<int64_t> labels;
  if (classes_.empty()) {
    // A flat folder of images: unlabeled (for pretraining and embed).
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.is_regular_file() && is_image_file(entry.path())) all_files.push_back(entry.path().string());
    }
    SIMCLR_CHECK(!all_files.empty(),
                 "image folder '{}' has neither class folders nor images; expected root/<class>/<image>.jpg or "
                 "root/<image>.jpg",
                 root);
    std::sort(all_files.begin(), all_files.end());
    labels.assign(all_files.size(), -1);
    set_files(std::move(all_files), std::move(labels), 0);
    return;
  }
  for (size_t c = 0; c < classes_.size(); ++c) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(root) / classes_[c])) {
      if (files.size() % 4096 == 0) check_interrupt();  // a million files take a while to list
      if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path().string());
    }
    SIMCLR_CHECK(!files.empty(),
                 "class folder '{}' holds no image files (.jpg, .jpeg, .png, .bmp, .webp, .tif, .tiff); add images or "
                 "remove the folder",
                 (fs::path(root) / classes_[c]).string());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      all_files.push_back(std::move(f));
      labels.push_back(static_cast<int64_t>(c));
    }
  }
  // Images of other sizes than the first are resized by the augmentation or
  // evaluation transform.
  set_files(std::move(all_files), std::move(labels), static_cast<int64_t>(classes_.size()));
}

std::shared_ptr<ImageFolderDataset> ImageFolderDataset::open(const std::string& root, Split split,
                                                             bool skip_unreadable) {
  const fs::path sub = fs::path(root) / (split == Split::kTrain ? "train" : "test");
  if (fs::is_directory(sub) && fs::is_directory(fs::path(root) / "train") && fs::is_directory(fs::path(root) / "test")) {
    return std::make_shared<ImageFolderDataset>(sub.string(), skip_unreadable);
  }
  return std::make_shared<ImageFolderDataset>(root, skip_unreadable);
}

}  // namespace simclr::data

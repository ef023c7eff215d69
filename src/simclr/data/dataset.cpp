#include "simclr/data/dataset.h"

#include "simclr/core/error.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/data/image_folder_dataset.h"

namespace simclr::data {

std::string to_string(Split split) { return split == Split::kTrain ? "train" : "test"; }

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "mnist", "imagefolder"};
  return names;
}

std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& path, Split split) {
  if (name == "fashion-mnist" || name == "mnist") return IdxDataset::open_folder(path, split);
  if (name == "imagefolder") return ImageFolderDataset::open(path, split);
  throw Error(fmt::format("unknown dataset format '{}'; choose one of: fashion-mnist, mnist, imagefolder", name));
}

}  // namespace simclr::data

#include "simclr/data/dataset.h"

#include <filesystem>

#include "simclr/core/error.h"
#include "simclr/data/binary_datasets.h"
#include "simclr/data/csv_dataset.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/data/image_folder_dataset.h"

namespace simclr::data {

std::string to_string(Split split) { return split == Split::kTrain ? "train" : "test"; }

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion-mnist", "mnist",  "imagefolder", "cifar10",
                                                 "cifar100",      "cifar100-coarse", "stl10", "csv"};
  return names;
}

std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& path, Split split,
                                      OpenOptions options) {
  if (name == "fashion-mnist" || name == "mnist") return IdxDataset::open_folder(path, split);
  if (name == "imagefolder") return ImageFolderDataset::open(path, split, options.skip_unreadable);
  if (name == "cifar10") return CifarDataset::open_folder(path, split, CifarLabel::kCifar10);
  if (name == "cifar100") return CifarDataset::open_folder(path, split, CifarLabel::kCifar100Fine);
  if (name == "cifar100-coarse") return CifarDataset::open_folder(path, split, CifarLabel::kCifar100Coarse);
  if (name == "stl10") return Stl10Dataset::open_folder(path, split, options.with_unlabeled);
  if (name == "csv") return CsvDataset::open(path, split, options.skip_unreadable);
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error(fmt::format("unknown dataset format '{}'; choose one of: {}", name, known));
}

bool has_test_split(const config::DataConfig& data) {
  namespace fs = std::filesystem;
  const fs::path root(data.path);
  if (data.dataset == "imagefolder") return fs::is_directory(root / "train") && fs::is_directory(root / "test");
  if (data.dataset == "csv") return fs::is_directory(root) && fs::is_regular_file(root / "test.csv");
  return true;  // the binary formats always come with their test files
}

std::shared_ptr<Dataset> open_dataset(const config::DataConfig& data, Split split, bool with_unlabeled) {
  return open_dataset(data.dataset, data.path, split, {with_unlabeled && data.unlabeled, data.on_bad_image == "skip"});
}

}  // namespace simclr::data

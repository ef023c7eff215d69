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

void check_split_labels(const Dataset& train, const Dataset& test, const config::DataConfig& data) {
  const auto* train_folder = dynamic_cast<const ImageFolderDataset*>(&train);
  const auto* test_folder = dynamic_cast<const ImageFolderDataset*>(&test);
  if (train_folder && test_folder && train_folder->classes() != test_folder->classes()) {
    std::string a, b;
    for (const auto& c : train_folder->classes()) a += (a.empty() ? "" : ", ") + c;
    for (const auto& c : test_folder->classes()) b += (b.empty() ? "" : ", ") + c;
    throw Error(fmt::format("'{}': the class folders of train/ ({}) and test/ ({}) differ, so their labels would "
                            "not match; give both splits the same class folders",
                            data.path, a, b));
  }
  for (size_t i = 0; i < test.size(); ++i) {
    const int64_t y = test.label(i);
    SIMCLR_CHECK(y < train.num_classes(),
                 "'{}': test image {} ('{}') has label {}, but the training split has only {} classes (0..{}); give "
                 "the test split the training split's classes",
                 data.path, i, test.source(i), y, train.num_classes(), train.num_classes() - 1);
  }
}

std::shared_ptr<Dataset> open_dataset(const config::DataConfig& data, Split split, bool with_unlabeled) {
  return open_dataset(data.dataset, data.path, split, {with_unlabeled && data.unlabeled, data.on_bad_image == "skip"});
}

}  // namespace simclr::data

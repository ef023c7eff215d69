#include "simclr/data/dataset.h"

#include <filesystem>

#include "simclr/core/error.h"
#include "simclr/data/binary_datasets.h"
#include "simclr/data/csv_dataset.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/data/image_folder_dataset.h"

namespace simclr::data {

std::string to_string(Split split) { return split == Split::kTrain ? "train" : "test"; }

const Registry<FormatEntry>& formats() {
  namespace fs = std::filesystem;
  using O = const OpenOptions&;
  static const Registry<FormatEntry> registry(
      "dataset format",
      {
          {"fashion-mnist", "Fashion-MNIST IDX files (train-images-idx3-ubyte[.gz], ...)",
           [](const std::string& p, Split s, O) { return IdxDataset::open_folder(p, s); }, nullptr},
          {"mnist", "MNIST IDX files", [](const std::string& p, Split s, O) { return IdxDataset::open_folder(p, s); },
           nullptr},
          {"imagefolder", "image files in root/<class>/ (or root/train/<class> and root/test/<class>)",
           [](const std::string& p, Split s, O o) { return ImageFolderDataset::open(p, s, o.skip_unreadable); },
           [](const std::string& p) { return fs::is_directory(fs::path(p) / "train") && fs::is_directory(fs::path(p) / "test"); }},
          {"cifar10", "CIFAR-10 binary batches",
           [](const std::string& p, Split s, O) { return CifarDataset::open_folder(p, s, CifarLabel::kCifar10); }, nullptr},
          {"cifar100", "CIFAR-100 binary, fine labels",
           [](const std::string& p, Split s, O) { return CifarDataset::open_folder(p, s, CifarLabel::kCifar100Fine); },
           nullptr},
          {"cifar100-coarse", "CIFAR-100 binary, coarse labels",
           [](const std::string& p, Split s, O) { return CifarDataset::open_folder(p, s, CifarLabel::kCifar100Coarse); },
           nullptr},
          {"stl10", "STL-10 binary (train, test and unlabeled)",
           [](const std::string& p, Split s, O o) { return Stl10Dataset::open_folder(p, s, o.with_unlabeled); }, nullptr},
          {"csv", "CSV list of path,label (a file, or a folder with train.csv and test.csv)",
           [](const std::string& p, Split s, O o) { return CsvDataset::open(p, s, o.skip_unreadable); },
           [](const std::string& p) { return fs::is_directory(p) && fs::is_regular_file(fs::path(p) / "test.csv"); }},
      });
  return registry;
}

std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& path, Split split,
                                      OpenOptions options) {
  const FormatEntry* format = formats().find(name);
  SIMCLR_CHECK(format, "unknown dataset format '{}'; choose one of: {}", name, formats().joined_names());
  return format->open(path, split, options);
}

bool has_test_split(const DataOptions& data) {
  const FormatEntry& format = formats().at(data.dataset, "data.dataset");
  return !format.has_test_split || format.has_test_split(data.path);
}

void check_split_labels(const Dataset& train, const Dataset& test, const DataOptions& data) {
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

std::shared_ptr<Dataset> open_dataset(const DataOptions& data, Split split, bool with_unlabeled) {
  return open_dataset(data.dataset, data.path, split, {with_unlabeled && data.unlabeled, data.on_bad_image == "skip"});
}

}  // namespace simclr::data

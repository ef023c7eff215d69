// Labeled image datasets. A Dataset indexes its samples cheaply at
// construction and decodes one sample per get() call, so loader threads do
// the decoding in parallel. get() must be safe to call from many threads.
#pragma once
#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "simclr/core/registry.h"
#include "simclr/data/data_options.h"

namespace simclr::data {

enum class Split { kTrain, kTest };
std::string to_string(Split split);

struct Sample {
  cv::Mat image;  // CV_8UC1 (grey) or CV_8UC3 in RGB order
  int64_t label = -1;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual size_t size() const = 0;
  virtual Sample get(size_t index) const = 0;
  virtual int64_t num_classes() const = 0;
  virtual int channels() const = 0;         // 1 or 3
  virtual int image_side() const = 0;       // nominal side of the images (e.g. 28)
  virtual std::string describe() const = 0;  // one line for logs
  // Label of a sample without decoding its image.
  virtual int64_t label(size_t index) const = 0;
  // Where a sample comes from, for embedding indexes: its file path, or
  // "file#record" for formats that pack many images in one file.
  virtual std::string source(size_t index) const = 0;
};

struct OpenOptions {
  // The training split also holds the format's unlabeled images where it
  // has them (STL-10), for pretraining.
  bool with_unlabeled = false;
  // Image files that cannot be decoded are skipped and counted (file lists).
  bool skip_unreadable = false;
};

// The formats data.dataset may name. A new format: a Dataset subclass in its
// own file and one line in the table in dataset.cpp.
struct FormatEntry {
  std::string name;
  std::string help;
  std::function<std::shared_ptr<Dataset>(const std::string& path, Split split, const OpenOptions& options)> open;
  // Whether the data at `path` has a test split of its own (the binary
  // formats always do); null = always.
  std::function<bool(const std::string& path)> has_test_split;
};
const Registry<FormatEntry>& formats();

// Opens a dataset by format name (see formats()). Throws simclr::Error
// naming the path and the fix when it cannot.
std::shared_ptr<Dataset> open_dataset(const std::string& name, const std::string& path, Split split,
                                      OpenOptions options = {});

// The same from the data section of the config; `with_unlabeled` adds the
// unlabeled split when data.unlabeled asks for it (pretraining only).
std::shared_ptr<Dataset> open_dataset(const DataOptions& data, Split split, bool with_unlabeled = false);

// Whether the format at `data.path` has a test split of its own. A flat
// image folder or a single CSV list has not: its "test" split is the
// training images, which evaluation must not pass off as a test score.
bool has_test_split(const DataOptions& data);

// Refuses a test split whose labels do not mean what the training split's
// do: a label beyond the training classes, or image folders whose class
// folders differ (their numbering would shift). Names both splits.
void check_split_labels(const Dataset& train, const Dataset& test, const DataOptions& data);

}  // namespace simclr::data

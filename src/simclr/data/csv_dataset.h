// A CSV list of images for data that does not live in class folders. Each
// line is `path,label` or `path` alone (unlabeled, label -1); the label is
// what follows the last comma, so paths may contain commas when labelled.
// Relative paths are relative to the CSV file's folder. Labels that are all
// whole numbers are used as they are; otherwise they are class names,
// numbered in sorted order as ImageFolder does. A first line `path,label`
// (or `path`) is a header and skipped. Given a folder holding train.csv and
// test.csv, the split picks one; a single CSV file serves both splits.
#pragma once
#include <string>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

class CsvDataset : public Dataset {
 public:
  explicit CsvDataset(const std::string& csv_path);
  static std::shared_ptr<CsvDataset> open(const std::string& path, Split split);

  size_t size() const override { return files_.size(); }
  Sample get(size_t index) const override;
  int64_t label(size_t index) const override { return labels_.at(index); }
  int64_t num_classes() const override { return num_classes_; }
  int channels() const override { return 3; }
  int image_side() const override { return side_; }
  std::string describe() const override;
  const std::string& path(size_t index) const { return files_.at(index); }

 private:
  std::string csv_path_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
  int64_t num_classes_ = 0;
  int side_ = 0;
};

}  // namespace simclr::data

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

#include "simclr/data/file_list_dataset.h"

namespace simclr::data {

class CsvDataset : public FileListDataset {
 public:
  explicit CsvDataset(const std::string& csv_path, bool skip_unreadable = false);
  static std::shared_ptr<CsvDataset> open(const std::string& path, Split split, bool skip_unreadable = false);
};

}  // namespace simclr::data

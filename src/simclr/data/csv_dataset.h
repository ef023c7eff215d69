// A CSV list of images for data that does not live in class folders, read as
// RFC 4180: fields separated by commas, lines ended by LF or CRLF, a UTF-8
// byte order mark at the start skipped; a field in double quotes may hold
// commas, and "" inside it is one quote. A quoted field may not span lines
// (image paths with line breaks are not supported), so an unclosed quote is
// an error naming its line. Each line is `path,label` or `path` alone
// (unlabeled, label -1). An unquoted path may still contain commas when
// labelled: the label is what follows the last comma of a line whose fields
// are all unquoted. Relative paths are relative to the CSV file's folder.
// Labels that are all whole numbers are class numbers, 0 to 1,000,000 (gaps
// allowed); otherwise they are class names, numbered in sorted order as
// ImageFolder does. A first line `path,label` (or `path`, `file`,
// `filename`) is a header and skipped. Given a folder holding train.csv and
// test.csv, the split picks one, and test.csv's labels are numbered as
// train.csv's are (a test class that train.csv lacks is an error); a single
// CSV file serves both splits.
#pragma once
#include <string>

#include "simclr/data/file_list_dataset.h"

namespace simclr::data {

class CsvDataset : public FileListDataset {
 public:
  // With `train_csv`, the labels are numbered as that list's (the training
  // split of the same data), and num_classes() is its class count.
  explicit CsvDataset(const std::string& csv_path, bool skip_unreadable = false, const std::string& train_csv = "");
  static std::shared_ptr<CsvDataset> open(const std::string& path, Split split, bool skip_unreadable = false);
};

}  // namespace simclr::data

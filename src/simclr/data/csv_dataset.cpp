#include "simclr/data/csv_dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "simclr/core/error.h"

namespace simclr::data {
namespace fs = std::filesystem;
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\"");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\"");
  return s.substr(b, e - b + 1);
}

bool is_integer(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

CsvDataset::CsvDataset(const std::string& csv_path, bool skip_unreadable)
    : FileListDataset("CSV list", csv_path, skip_unreadable) {
  std::ifstream in(csv_path);
  SIMCLR_CHECK(in.good(), "cannot open CSV file list '{}': missing or not readable", csv_path);
  const fs::path base = fs::path(csv_path).parent_path();
  std::vector<std::string> files, raw_labels;
  bool any_label = false, any_unlabeled = false;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const auto comma = line.rfind(',');
    std::string file = trim(comma == std::string::npos ? line : line.substr(0, comma));
    std::string label = comma == std::string::npos ? "" : trim(line.substr(comma + 1));
    if (files.empty() && (file == "path" || file == "file" || file == "filename")) continue;  // header
    SIMCLR_CHECK(!file.empty(), "'{}' line {}: empty path", csv_path, line_number);
    const fs::path full = fs::path(file).is_absolute() ? fs::path(file) : base / file;
    SIMCLR_CHECK(fs::is_regular_file(full), "'{}' line {}: image '{}' does not exist; fix the path or remove the line",
                 csv_path, line_number, full.string());
    files.push_back(full.string());
    raw_labels.push_back(label);
    (label.empty() ? any_unlabeled : any_label) = true;
  }
  SIMCLR_CHECK(!files.empty(), "CSV file list '{}' names no images; expected lines 'path,label' or 'path'", csv_path);
  SIMCLR_CHECK(!(any_label && any_unlabeled),
               "CSV file list '{}' mixes labelled and unlabelled lines; give every line a label, or none", csv_path);
  const bool numeric = std::all_of(raw_labels.begin(), raw_labels.end(), is_integer);
  std::map<std::string, int64_t> classes;
  if (any_label && !numeric) {
    for (const auto& l : raw_labels) classes.emplace(l, 0);
    int64_t next = 0;
    for (auto& [name, id] : classes) id = next++;  // sorted by name
  }
  std::vector<int64_t> labels;
  int64_t num_classes = 0;
  for (const auto& l : raw_labels) {
    labels.push_back(!any_label ? -1 : (numeric ? std::stoll(l) : classes.at(l)));
    num_classes = std::max(num_classes, labels.back() + 1);
  }
  set_files(std::move(files), std::move(labels), num_classes);
}

std::shared_ptr<CsvDataset> CsvDataset::open(const std::string& path, Split split, bool skip_unreadable) {
  if (fs::is_directory(path)) {
    const auto csv = fs::path(path) / (split == Split::kTrain ? "train.csv" : "test.csv");
    SIMCLR_CHECK(fs::is_regular_file(csv), "folder '{}' has no '{}'; give --data a CSV file or a folder with train.csv and "
                 "test.csv", path, csv.filename().string());
    return std::make_shared<CsvDataset>(csv.string(), skip_unreadable);
  }
  return std::make_shared<CsvDataset>(path, skip_unreadable);
}

}  // namespace simclr::data

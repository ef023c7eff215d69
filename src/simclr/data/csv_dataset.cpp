#include "simclr/data/csv_dataset.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#include "simclr/core/error.h"

namespace simclr::data {
namespace fs = std::filesystem;
namespace {

// Numeric labels size the classifier (a row per class up to the largest), so
// a stray huge number would allocate gigabytes before failing.
constexpr int64_t kMaxNumericLabel = 1'000'000;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

bool is_integer(const std::string& s) {
  const size_t digits = !s.empty() && s[0] == '-' ? 1 : 0;
  return s.size() > digits &&
         std::all_of(s.begin() + digits, s.end(), [](unsigned char c) { return std::isdigit(c); });
}

struct Field {
  std::string text;  // unquoted fields keep their spaces, so a legacy unquoted path is rejoined exactly
  bool quoted = false;
};

// The fields of one line, RFC 4180 except that a quoted field ends on its line.
std::vector<Field> split_fields(const std::string& line, const std::string& csv_path, size_t line_number) {
  enum class State { kStart, kUnquoted, kQuoted, kAfterQuote };
  std::vector<Field> fields(1);
  State state = State::kStart;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    Field& f = fields.back();
    if (state == State::kQuoted) {
      if (c != '"') {
        f.text += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        f.text += '"';
        ++i;
      } else {
        state = State::kAfterQuote;
      }
    } else if (c == ',') {
      fields.emplace_back();
      state = State::kStart;
    } else if (state == State::kAfterQuote) {
      SIMCLR_CHECK(c == ' ' || c == '\t',
                   "'{}' line {}: '{}' after the closing quote of field {}; a quote inside a quoted field is written "
                   "twice (\"a \"\"b\"\".png\")",
                   csv_path, line_number, c, fields.size());
    } else if (state == State::kStart && c == '"' && trim(f.text).empty()) {
      f = {"", true};  // spaces before an opening quote are not part of the field
      state = State::kQuoted;
    } else {
      f.text += c;
      if (c != ' ' && c != '\t') state = State::kUnquoted;
    }
  }
  SIMCLR_CHECK(state != State::kQuoted,
               "'{}' line {}: the quote that opens field {} is not closed on this line; add the closing \" (a quoted "
               "field may not span lines: image paths with line breaks are not supported)",
               csv_path, line_number, fields.size());
  return fields;
}

struct Row {
  size_t line = 0;
  std::string file, label;
};

// The records of a list, the header and blank lines dropped; no file is looked at.
std::vector<Row> read_rows(const std::string& csv_path) {
  std::ifstream in(csv_path, std::ios::binary);
  SIMCLR_CHECK(in.good(), "cannot open CSV file list '{}': missing or not readable", csv_path);
  std::vector<Row> rows;
  std::string line;
  size_t line_number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (line_number == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 byte order mark
    if (!line.empty() && line.back() == '\r') line.pop_back();                    // CRLF
    const auto fields = split_fields(line, csv_path, line_number);
    if (fields.size() == 1 && !fields[0].quoted && trim(fields[0].text).empty()) continue;
    Row row{line_number, "", ""};
    const auto text = [](const Field& f) { return f.quoted ? f.text : trim(f.text); };
    if (fields.size() <= 2) {
      row.file = text(fields[0]);
      if (fields.size() == 2) row.label = text(fields[1]);
    } else {
      const bool quoted = std::any_of(fields.begin(), fields.end(), [](const Field& f) { return f.quoted; });
      SIMCLR_CHECK(!quoted, "'{}' line {}: {} fields; expected 'path,label' or 'path' (a path with commas in quotes: "
                   "\"a,b.png\",label)", csv_path, line_number, fields.size());
      // Unquoted, the label is what follows the last comma (lists written before quoting was understood).
      for (size_t i = 0; i + 1 < fields.size(); ++i) row.file += (i ? "," : "") + fields[i].text;
      row.file = trim(row.file);
      row.label = trim(fields.back().text);
    }
    if (first && (row.file == "path" || row.file == "file" || row.file == "filename")) {
      first = false;
      continue;  // header
    }
    first = false;
    SIMCLR_CHECK(!row.file.empty(), "'{}' line {}: empty path", csv_path, line_number);
    rows.push_back(std::move(row));
  }
  return rows;
}

int64_t numeric_label(const Row& row, const std::string& csv_path) {
  int64_t v = 0;
  const char* end = row.label.data() + row.label.size();
  const auto [ptr, ec] = std::from_chars(row.label.data(), end, v);
  const bool negative = row.label[0] == '-';
  SIMCLR_CHECK(!negative || (ec == std::errc() && v == 0),
               "'{}' line {}: label {} is negative; numeric labels are class numbers from 0 (leave the label out for "
               "an unlabelled image)", csv_path, row.line, row.label);
  SIMCLR_CHECK(ec == std::errc() && ptr == end && v <= kMaxNumericLabel,
               "'{}' line {}: label {} is above {}, the largest class number allowed (the classifier has a row per "
               "class up to the largest); number the classes 0..N-1, or use class names",
               csv_path, row.line, row.label, kMaxNumericLabel);
  return v;
}

// How a list's labels map to class numbers.
struct Classes {
  bool labelled = false, numeric = false;
  std::map<std::string, int64_t> names;  // class names in sorted order, when not numeric
  int64_t count = 0;
};

Classes classes_of(const std::vector<Row>& rows, const std::string& csv_path) {
  Classes c;
  const auto unlabelled = std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.label.empty(); });
  c.labelled = unlabelled == 0;
  SIMCLR_CHECK(c.labelled || unlabelled == static_cast<std::ptrdiff_t>(rows.size()),
               "CSV file list '{}' mixes labelled and unlabelled lines; give every line a label, or none", csv_path);
  if (!c.labelled) return c;
  c.numeric = std::all_of(rows.begin(), rows.end(), [](const Row& r) { return is_integer(r.label); });
  if (c.numeric) {
    for (const auto& r : rows) c.count = std::max(c.count, numeric_label(r, csv_path) + 1);
  } else {
    for (const auto& r : rows) c.names.emplace(r.label, 0);
    for (auto& [name, id] : c.names) id = c.count++;
  }
  return c;
}

std::string first_names(const std::map<std::string, int64_t>& names) {
  std::string out;
  size_t n = 0;
  for (const auto& entry : names) {
    if (n++ == 10) return out + ", ...";
    out += (out.empty() ? "" : ", ") + entry.first;
  }
  return out;
}

}  // namespace

CsvDataset::CsvDataset(const std::string& csv_path, bool skip_unreadable, const std::string& train_csv)
    : FileListDataset("CSV list", csv_path, skip_unreadable) {
  const fs::path base = fs::path(csv_path).parent_path();
  const std::vector<Row> rows = read_rows(csv_path);
  std::vector<std::string> files;
  for (const auto& row : rows) {
    const fs::path full = fs::path(row.file).is_absolute() ? fs::path(row.file) : base / row.file;
    SIMCLR_CHECK(fs::is_regular_file(full), "'{}' line {}: image '{}' does not exist; fix the path or remove the line",
                 csv_path, row.line, full.string());
    files.push_back(full.string());
  }
  SIMCLR_CHECK(!files.empty(), "CSV file list '{}' names no images; expected lines 'path,label' or 'path'", csv_path);
  const Classes own = classes_of(rows, csv_path);
  // A test split is numbered as its training split, or a classifier trained
  // on one would be scored against the other's numbering.
  Classes train;
  if (!train_csv.empty() && own.labelled) train = classes_of(read_rows(train_csv), train_csv);
  const Classes& numbering = train.labelled ? train : own;
  std::vector<int64_t> labels;
  for (const auto& row : rows) {
    if (!own.labelled) {
      labels.push_back(-1);
    } else if (numbering.numeric) {
      SIMCLR_CHECK(own.numeric, "'{}' line {}: label '{}' is a class name, but the training split '{}' has class "
                   "numbers; use the same kind of labels in both lists", csv_path, row.line, row.label, train_csv);
      labels.push_back(numeric_label(row, csv_path));
      SIMCLR_CHECK(labels.back() < numbering.count,
                   "'{}' line {}: label {} is not a class of the training split '{}' (labels 0..{}), so no classifier "
                   "trained on it can predict it; add the class to '{}' or remove the line",
                   csv_path, row.line, labels.back(), train_csv, numbering.count - 1, train_csv);
    } else {
      const auto it = numbering.names.find(row.label);
      SIMCLR_CHECK(it != numbering.names.end(),
                   "'{}' line {}: class '{}' does not appear in the training split '{}' (classes: {}), so no "
                   "classifier trained on it can predict it; add the class to '{}' or remove the line",
                   csv_path, row.line, row.label, train_csv, first_names(numbering.names), train_csv);
      labels.push_back(it->second);
    }
  }
  set_files(std::move(files), std::move(labels), own.labelled ? numbering.count : 0);
}

std::shared_ptr<CsvDataset> CsvDataset::open(const std::string& path, Split split, bool skip_unreadable) {
  if (fs::is_directory(path)) {
    const auto csv = fs::path(path) / (split == Split::kTrain ? "train.csv" : "test.csv");
    SIMCLR_CHECK(fs::is_regular_file(csv), "folder '{}' has no '{}'; give --data a CSV file or a folder with train.csv and "
                 "test.csv", path, csv.filename().string());
    const auto train = fs::path(path) / "train.csv";
    const bool numbered_by_train = split == Split::kTest && fs::is_regular_file(train);
    return std::make_shared<CsvDataset>(csv.string(), skip_unreadable, numbered_by_train ? train.string() : "");
  }
  return std::make_shared<CsvDataset>(path, skip_unreadable);
}

}  // namespace simclr::data

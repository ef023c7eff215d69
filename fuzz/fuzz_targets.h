// Fuzz targets for the readers of untrusted files: the binary dataset
// readers (IDX, CIFAR, STL-10) and the torch.save state-dict reader with its
// zip parser (io/state_dict_reader.h, io/zip_check.h). Each takes arbitrary
// bytes, makes them the reader's input and reads everything. The contract
// under test: a reader either returns well-formed data or throws
// simclr::Error; it never crashes, reads out of bounds (AddressSanitizer),
// hangs or allocates without bound.
//
// The same functions run two ways: under libFuzzer (fuzz/*_fuzz.cpp, built
// by scripts/fuzz.sh with clang) and, over the checked-in corpus in
// fuzz/corpus/, as ordinary tests (tests/fuzz_corpus_test.cpp) so that every
// input the fuzzer ever found stays a regression test.
#pragma once
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "simclr/core/error.h"
#include "simclr/data/binary_datasets.h"
#include "simclr/data/idx_dataset.h"
#if !defined(SIMCLR_FUZZ_DATASETS_ONLY)  // the dataset targets build without LibTorch
#include "simclr/io/state_dict_reader.h"
#include "simclr/io/zip_check.h"
#endif

namespace simclr::fuzz {

// A per-process scratch folder in memory-backed /dev/shm when it exists.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    auto d = base / ("simclr_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Splits the input at the position its first two bytes give, for readers
// that take two files (images and labels).
inline void split_two(const uint8_t* data, size_t size, std::string a, std::string b, std::string* path_a,
                      std::string* path_b) {
  size_t cut = size >= 2 ? (static_cast<size_t>(data[0]) << 8 | data[1]) : 0;
  data += std::min<size_t>(size, 2);
  size -= std::min<size_t>(size, 2);
  cut = std::min(cut, size);
  *path_a = write_file(a, data, cut);
  *path_b = write_file(b, data + cut, size - cut);
}

// Reads up to 64 samples spread over the dataset and checks their shape.
inline void read_samples(const data::Dataset& ds) {
  const size_t n = ds.size();
  const size_t step = std::max<size_t>(1, n / 64);
  for (size_t i = 0; i < n; i += step) {
    const data::Sample s = ds.get(i);
    if (s.image.rows != ds.image_side() || s.image.channels() != ds.channels()) std::abort();
    if (s.label != ds.label(i) || s.label >= ds.num_classes()) std::abort();
  }
}

// Input: <2-byte cut><images file bytes><labels file bytes>; either file may
// be gzip (magic 1f 8b), as the published .gz files are.
inline int fuzz_idx(const uint8_t* data, size_t size) {
  std::string images, labels;
  split_two(data, size, "images-idx3-ubyte", "labels-idx1-ubyte", &images, &labels);
  try {
    read_samples(data::IdxDataset(images, labels));
  } catch (const Error&) {
  }
  return 0;
}

// Input: <mode byte: 0 CIFAR-10, 1 CIFAR-100 fine, 2 coarse><one .bin file>.
inline int fuzz_cifar(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto mode = static_cast<data::CifarLabel>(data[0] % 3);
  const std::string path = write_file("batch.bin", data + 1, size - 1);
  try {
    read_samples(data::CifarDataset({path}, mode));
  } catch (const Error&) {
  }
  return 0;
}

// Input: <2-byte cut><X file><y file>; an odd first byte drops the labels
// (the unlabeled split).
inline int fuzz_stl10(const uint8_t* data, size_t size) {
  std::string x, y;
  split_two(data, size, "X.bin", "y.bin", &x, &y);
  const bool unlabeled = size > 0 && (data[0] & 1);
  try {
    read_samples(data::Stl10Dataset({x}, unlabeled ? std::vector<std::string>{} : std::vector<std::string>{y}));
  } catch (const Error&) {
  }
  return 0;
}

// A record of a zip archive written by make_zip: `data` is what lies in the
// file (already deflated when method is 8); size and crc default to those of
// `data`, and can be set to anything, for malformed archives.
struct ZipItem {
  std::string name;
  std::string data;
  uint16_t method = 0;
  uint64_t size = UINT64_MAX;
  int64_t crc = -1;
};

// A one-disk zip archive (no zip64, no data descriptors) of the items.
inline std::vector<uint8_t> make_zip(const std::vector<ZipItem>& items) {
  std::vector<uint8_t> out, directory;
  auto put = [](std::vector<uint8_t>& b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  for (const auto& item : items) {
    const uint64_t offset = out.size();
    const uint32_t crc = item.crc >= 0 ? static_cast<uint32_t>(item.crc)
                                       : static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(
                                                                              item.data.data()),
                                                                       item.data.size()));
    const uint64_t size = item.size == UINT64_MAX ? item.data.size() : item.size;
    for (auto* b : {&out, &directory}) {
      const bool central = b == &directory;
      put(*b, central ? 0x02014b50 : 0x04034b50, 4);
      if (central) put(*b, 20, 2);     // version made by
      put(*b, 20, 2);                  // version needed
      put(*b, 0, 2);                   // flags
      put(*b, item.method, 2);
      put(*b, 0, 4);                   // time, date
      put(*b, crc, 4);
      put(*b, item.data.size(), 4);
      put(*b, size, 4);
      put(*b, item.name.size(), 2);
      put(*b, 0, 2);                   // extra
      if (central) {
        put(*b, 0, 2);                 // comment
        put(*b, 0, 2);                 // disk
        put(*b, 0, 2);                 // internal attributes
        put(*b, 0, 4);                 // external attributes
        put(*b, offset, 4);
      }
      b->insert(b->end(), item.name.begin(), item.name.end());
    }
    out.insert(out.end(), item.data.begin(), item.data.end());
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), directory.begin(), directory.end());
  put(out, 0x06054b50, 4);
  put(out, 0, 4);  // disks
  put(out, items.size(), 2);
  put(out, items.size(), 2);
  put(out, directory.size(), 4);
  put(out, cd_offset, 4);
  put(out, 0, 2);  // comment
  return out;
}

#if !defined(SIMCLR_FUZZ_DATASETS_ONLY)
// The storage records a fuzzed pickle can use: data/0 ... data/7 hold 64
// bytes each (16 floats, 8 longs, ...), data/8 six (not a whole number of
// most types).
inline std::vector<uint8_t> zip_around_pickle(const uint8_t* data, size_t size) {
  std::string storage(64, '\0');
  for (size_t i = 0; i < storage.size(); ++i) storage[i] = static_cast<char>(i * 37);
  std::vector<ZipItem> items = {{"archive/data.pkl", std::string(reinterpret_cast<const char*>(data), size)}};
  for (int i = 0; i < 8; ++i) items.push_back({"archive/data/" + std::to_string(i), storage});
  items.push_back({"archive/data/8", storage.substr(0, 6)});
  items.push_back({"archive/version", "3\n"});
  return make_zip(items);
}

// Input: <mode byte><rest>. Even mode: the rest is the pickle (data.pkl) of
// a torch.save file whose archive zip_around_pickle writes, so the fuzzer
// works on the unpickler, past the CRCs. Odd mode: the rest is the whole file
// (the zip parser and its checks).
inline std::map<std::string, torch::Tensor> state_dict_of(const uint8_t* data, size_t size) {
  if (size < 1) throw Error("empty input");
  std::vector<uint8_t> file = (data[0] & 1) ? std::vector<uint8_t>(data + 1, data + size)
                                           : zip_around_pickle(data + 1, size - 1);
  const auto zip = io::ZipArchive::in_memory(std::move(file), "fuzz.pt", "weights file");
  zip.verify();
  return io::read_torch_save_state_dict(zip);
}

inline int fuzz_state_dict(const uint8_t* data, size_t size) {
  try {
    for (const auto& [name, t] : state_dict_of(data, size)) {
      // Touch every element: a tensor that escaped its storage shows here.
      if (t.numel() > 0 && !t.sum().defined()) std::abort();
    }
  } catch (const Error&) {
  }
  return 0;
}
#endif

}  // namespace simclr::fuzz

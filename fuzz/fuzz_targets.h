// Fuzz targets for the binary dataset readers (IDX, CIFAR, STL-10). Each
// takes arbitrary bytes, writes them as the reader's input files and reads
// every sample. The contract under test: a reader either opens the data and
// returns well-formed samples, or throws simclr::Error; it never crashes,
// reads out of bounds (AddressSanitizer), hangs or allocates without bound.
//
// The same functions run two ways: under libFuzzer (fuzz/*_fuzz.cpp, built
// by scripts/fuzz.sh with clang) and, over the checked-in corpus in
// fuzz/corpus/, as ordinary tests (tests/fuzz_corpus_test.cpp) so that every
// input the fuzzer ever found stays a regression test.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "simclr/core/error.h"
#include "simclr/data/binary_datasets.h"
#include "simclr/data/idx_dataset.h"

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

}  // namespace simclr::fuzz

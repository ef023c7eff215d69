// Helpers shared by the tests: temporary folders, the golden values written
// by tests/golden/make_golden.py, and small datasets written byte for byte.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <sys/wait.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "simclr/config/config.h"
#include "simclr/core/error.h"

namespace simclr::testing {

// The message of the simclr::Error that `fn` throws, or "" if it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline const nlohmann::json& golden() {
  static const nlohmann::json g = [] {
    std::ifstream in(std::string(SIMCLR_SOURCE_DIR) + "/tests/golden/golden.json");
    EXPECT_TRUE(in.good()) << "tests/golden/golden.json missing: run /usr/bin/python3 tests/golden/make_golden.py";
    return nlohmann::json::parse(in);
  }();
  return g;
}

inline torch::Tensor tensor_of(const nlohmann::json& values, std::vector<int64_t> shape,
                               torch::Dtype dtype = torch::kDouble) {
  return torch::tensor(values.get<std::vector<double>>(), torch::kDouble).reshape(shape).to(dtype);
}

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("simclr_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

inline void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

inline std::vector<uint8_t> idx_images(const std::vector<std::vector<uint8_t>>& images, int rows, int cols) {
  std::vector<uint8_t> b;
  put_be32(b, 0x00000803);
  put_be32(b, static_cast<uint32_t>(images.size()));
  put_be32(b, rows);
  put_be32(b, cols);
  for (const auto& im : images) b.insert(b.end(), im.begin(), im.end());
  return b;
}

inline std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> b;
  put_be32(b, 0x00000801);
  put_be32(b, static_cast<uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

// A small MNIST-format dataset in `dir`: two classes that differ in where a
// bright blob sits (left or right half), over a coarse random 4x4 pattern of
// each image's own, so views of one image share something the model can
// learn to match in a few steps, and a linear probe can tell the classes.
// With `vertical`, the blob is in the top or bottom half instead, so that the
// classes survive a horizontal flip (for supervised fine-tuning).
inline void write_toy_idx(const std::string& dir, int n_train, int n_test, int side = 12, bool gzip = true,
                          bool vertical = false) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> noise(0, 120);
  auto make = [&](int n, const std::string& prefix) {
    std::vector<std::vector<uint8_t>> images;
    std::vector<uint8_t> labels;
    for (int i = 0; i < n; ++i) {
      const int label = i % 2;
      std::vector<uint8_t> im(side * side);
      int pattern[16];
      for (int& p : pattern) p = noise(gen);
      for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
          const int along = vertical ? y : x, across = vertical ? x : y;
          const bool blob =
              (label == 0 ? along < side / 2 : along >= side / 2) && across > side / 4 && across < 3 * side / 4;
          im[y * side + x] = static_cast<uint8_t>((blob ? 120 : 0) + pattern[(y * 4 / side) * 4 + x * 4 / side]);
        }
      }
      images.push_back(im);
      labels.push_back(static_cast<uint8_t>(label));
    }
    const std::string ext = gzip ? ".gz" : "";
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte" + ext, idx_images(images, side, side), gzip);
    write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_labels(labels), gzip);
  };
  make(n_train, "train");
  make(n_test, "t10k");
}

// A pretraining config for the toy dataset: a width-4 ResNet-18, fp32, no
// periodic checkpoints or progress lines. Weak views, so a few dozen steps
// show a clear fall in the loss (the paper's 8% crops of 12 px leave 3 px).
inline config::Config toy_config(const std::string& data_dir) {
  config::Config c;
  c.data.path = data_dir;
  c.data.dataset = "mnist";
  c.data.workers = 2;
  c.model.width = 4;
  c.model.head_dim = 16;
  c.train.batch_size = 32;
  c.train.epochs = 0;
  c.train.steps = 40;
  c.train.threads = 2;
  c.train.precision = "fp32";
  c.train.checkpoint_every = 0;
  c.train.log_every_seconds = 1000;
  c.optim.lr_base = 0.5;
  c.augment.crop_scale_min = 0.9;
  c.augment.color_p = 0;
  return c;
}

#ifdef SIMCLR_CLI_PATH
// The program's exit code and what it printed.
struct CliRun {
  int code;
  std::string output;
};

// Runs the simclr program with `args`; stderr joins stdout unless `stdout_only`.
inline CliRun run_cli(const std::string& args, bool stdout_only = false) {
  const std::string cmd = std::string(SIMCLR_CLI_PATH) + " " + args + (stdout_only ? " 2>/dev/null" : " 2>&1");
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}
#endif

// The largest |central difference - analytic gradient| over the entries of
// x, for a scalar function f of x in double precision.
inline double worst_finite_difference_error(const torch::Tensor& x, const torch::Tensor& grad,
                                            const std::function<double(const torch::Tensor&)>& f,
                                            double eps = 1e-6) {
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto plus = x.clone(), minus = x.clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    const double fd = (f(plus) - f(minus)) / (2 * eps);
    worst = std::max(worst, std::abs(fd - grad.reshape(-1)[i].item<double>()));
  }
  return worst;
}

}  // namespace simclr::testing

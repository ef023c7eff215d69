#include "simclr/io/npy.h"

#include <fstream>
#include <sstream>

#include "simclr/core/error.h"
#include "simclr/io/atomic_file.h"

namespace simclr::io {

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  const auto t = tensor.to(torch::kCPU, torch::kFloat).contiguous();
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 || i + 1 < t.dim() ? "," : "");
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic (6) + version (2) + header length (2) + header, padded with spaces
  // and ending in a newline so that the data starts 64-byte aligned.
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  write_atomically(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char len_le[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
    out.write(len_le, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * 4));
  });
}

torch::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SIMCLR_CHECK(in.good(), "cannot open '{}'", path);
  char magic[10];
  in.read(magic, 10);
  SIMCLR_CHECK(in.good() && std::string(magic, 6) == "\x93NUMPY" && magic[6] == 1,
               "'{}' is not a version 1 .npy file", path);
  const size_t len = static_cast<unsigned char>(magic[8]) | static_cast<unsigned char>(magic[9]) << 8;
  std::string header(len, ' ');
  in.read(header.data(), static_cast<std::streamsize>(len));
  SIMCLR_CHECK(header.find("'descr': '<f4'") != std::string::npos &&
                   header.find("'fortran_order': False") != std::string::npos,
               "'{}' is not float32 in C order", path);
  const auto open = header.find('('), close = header.find(')');
  SIMCLR_CHECK(open != std::string::npos && close > open, "'{}': no shape in the header", path);
  std::vector<int64_t> shape;
  std::stringstream dims(header.substr(open + 1, close - open - 1));
  std::string d;
  while (std::getline(dims, d, ',')) {
    if (d.find_first_not_of(' ') != std::string::npos) shape.push_back(std::stoll(d));
  }
  auto t = torch::empty(shape, torch::kFloat);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), static_cast<std::streamsize>(t.numel() * 4));
  SIMCLR_CHECK(in.gcount() == t.numel() * 4, "'{}' is truncated", path);
  return t;
}

}  // namespace simclr::io

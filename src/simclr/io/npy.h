// NumPy .npy files (format version 1.0): what numpy.load reads without any
// conversion. Written atomically.
#pragma once
#include <torch/torch.h>

#include <string>

namespace simclr::io {

// Writes a contiguous CPU float32 tensor of any rank as '<f4', C order.
void write_npy(const std::string& path, const torch::Tensor& tensor);

// Reads a '<f4' C-order .npy (as written above); throws simclr::Error.
torch::Tensor read_npy(const std::string& path);

}  // namespace simclr::io

// Reads a state dict written by Python's `torch.save(model.state_dict(), f)`
// (the zip format, default since PyTorch 1.6): a map from parameter names to
// tensors. LibTorch 1.13's torch::pickle_load cannot read it (the
// OrderedDict's _metadata trips its unpickler: pytorch/pytorch#100741, fixed
// only in later releases), so this is a small, strict reader of the pickle
// opcodes torch.save emits (protocol 2) that rebuilds tensors from the
// archive's storage records (read with io/zip_check.h, CRC-checked).
// Anything outside that subset is an error naming the file, never a guess.
//
// The file is untrusted: whatever it holds, the reader throws simclr::Error
// or returns tensors; it never crashes, recurses without bound or allocates
// more than the archive's (checked) record sizes. Containers nest at most
// kMaxPickleDepth deep, the pickle runs at most kMaxPickleOps operations, a
// tensor must lie inside its storage, and a storage is read once, into one
// buffer the size of its record.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>

#include "simclr/io/zip_check.h"

namespace simclr::io {

constexpr int kMaxPickleDepth = 128;
constexpr uint64_t kMaxPickleOps = uint64_t{1} << 21;
constexpr uint64_t kMaxPickleBytes = uint64_t{64} << 20;
constexpr size_t kMaxTensorDims = 64;

// Verifies the archive at `path` (verify_zip) and reads it. The tensors may
// be views that share a storage, as torch.load returns them.
std::map<std::string, torch::Tensor> read_torch_save_state_dict(const std::string& path);

// The same from an archive already open (the records read are CRC-checked
// as they are read; verify the archive first to check the others).
std::map<std::string, torch::Tensor> read_torch_save_state_dict(const ZipArchive& zip);

}  // namespace simclr::io

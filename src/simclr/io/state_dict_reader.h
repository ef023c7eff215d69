// Reads a state dict written by Python's `torch.save(model.state_dict(), f)`
// (the zip format, default since PyTorch 1.6): a map from parameter names to
// tensors. LibTorch 1.13's torch::pickle_load cannot read it (the
// OrderedDict's _metadata trips its unpickler: pytorch/pytorch#100741, fixed
// only in later releases), so this is a small, strict reader of the pickle
// opcodes torch.save emits (protocol 2) that rebuilds tensors from the
// archive's storage records with caffe2::serialize::PyTorchStreamReader.
// Anything outside that subset is an error naming the file, never a guess.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

namespace simclr::io {

std::map<std::string, torch::Tensor> read_torch_save_state_dict(const std::string& path);

}  // namespace simclr::io

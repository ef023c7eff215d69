// Exporting the encoder (optionally with the projection head) as a
// TorchScript module that `torch.jit.load` opens in Python and
// `torch::jit::load` in C++, without simclr:
//   forward(x) -> h   x: float NCHW in [0, 1], no mean/std normalisation
//   project(h) -> z   only when the head is included
// The module is the trained network traced in eval mode (BN uses its running
// statistics), whatever the encoder: its parameters and buffers keep
// torchvision's names (conv1.weight, layer1.0.bn1.running_mean, ...;
// head.mlp.0.weight), and forward and project are the C++ forward passes as
// TorchScript graphs.
// The expected input is stored with it, as the extra file "simclr.json" and as
// attributes (input_size, input_channels, feature_dim, preprocessing), and is
// printed by `simclr info FILE`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "simclr/models/simclr_model.h"

namespace simclr::serialize {

struct ExportInfo {
  int64_t input_size = 32;
  int64_t input_channels = 3;
  std::string source;  // the checkpoint it came from
  std::string config_yaml;
};

// Writes `path` atomically; returns the metadata stored in it.
nlohmann::json export_torchscript(models::SimclrModel& model, const ExportInfo& info, bool with_head,
                                  const std::string& path);

// The metadata of an exported module (throws simclr::Error naming the file).
nlohmann::json read_export_info(const std::string& path);

}  // namespace simclr::serialize

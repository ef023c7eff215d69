// The evaluation protocols by name: how a pretrained encoder is scored.
// `simclr ablate` grids choose one (`protocol: linear`); a new protocol is
// one line in protocols.cpp plus the function it calls.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "simclr/config/config.h"
#include "simclr/core/registry.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::eval {

// A protocol's headline numbers (test split, in [0, 1]) and its own report.
struct ProtocolScore {
  double top1 = 0, top5 = 0;
  nlohmann::json details = nlohmann::json::object();
};

struct ProtocolEntry {
  std::string name, help;
  // `config` as for the command (the checkpoint's config with eval.* set);
  // without a checkpoint the random-init baseline.
  std::function<ProtocolScore(const config::Config&, serialize::CheckpointReader*)> run;
};

// linear, knn, finetune.
const Registry<ProtocolEntry>& protocols();

}  // namespace simclr::eval

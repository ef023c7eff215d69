// The optim section of the config (`optim.*`): the optimizer and the
// learning-rate schedule. The config (config/config.h) holds this struct as
// its `optim` section.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace simclr::optim {

struct OptimOptions {
  std::string optimizer = "lars";  // lars | sgd
  std::string lr_scaling = "sqrt";  // linear: lr_base*B/256 | sqrt: lr_base*sqrt(B)
  std::optional<double> lr_base;    // unset: 0.3 (linear) or 0.075 (sqrt)
  double lr_warmup_fraction = 0.1;  // 10 of the paper's 100 epochs
  double momentum = 0.9;
  double weight_decay = 1e-6;
  double lars_trust = 0.001;
};

}  // namespace simclr::optim

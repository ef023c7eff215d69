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
  // The recipe's keys: unset ("auto") until a run's recipe fills them
  // (train/recipe.h), from the run's budget and batch; set, they are kept.
  std::string lr_scaling = "auto";  // linear: lr_base*B/256 | sqrt: lr_base*sqrt(B)
  std::optional<double> lr_base;
  std::optional<double> lr_warmup_fraction;  // linear warm-up share of the budget, then cosine
  std::optional<double> weight_decay;        // not on BN and bias
  double momentum = 0.9;
  double lars_trust = 0.001;
};

}  // namespace simclr::optim

// The loss section of the config (`loss.*`): which loss of loss::losses()
// and its parameters. The config (config/config.h) holds this struct as its
// `loss` section.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace simclr::loss {

struct LossOptions {
  std::string name = "nt_xent";  // a loss of loss::losses() (paper Table 2)
  // nt_xent, nt_logistic, dcl, dclw. Unset ("auto") until a run's recipe
  // (train/recipe.h) fills it; a loss needs it set (temperature_of).
  std::optional<double> temperature;
  bool normalize = true;         // l2-normalise z (cosine similarity); false: raw dot products
  double margin = 0.5;           // margin triplet's m
  double dcl_sigma = 0.5;        // DCLW's weight sharpness (Yeh et al. 2022: 0.5)
  // Extra negatives from a memory of earlier batches' projections, made by a
  // momentum copy of the model (SimCLRv2; train/negative_memory.h); 0 = none.
  int64_t queue_size = 0;
  bool semi_hard = false;        // nt_logistic, margin: only negatives farther than the positive
};

// The temperature of `options`; throws naming loss.temperature when it is unset.
double temperature_of(const LossOptions& options);

}  // namespace simclr::loss

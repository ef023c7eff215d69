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
  double temperature = 0.5;      // nt_xent, nt_logistic
  bool normalize = true;         // l2-normalise z (cosine similarity); false: raw dot products
  double margin = 0.5;           // margin triplet's m
  bool semi_hard = false;        // nt_logistic, margin: only negatives farther than the positive
};

}  // namespace simclr::loss

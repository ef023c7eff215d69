#include "simclr/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "simclr/core/error.h"

namespace simclr::optim {

double scaled_lr(double lr_base, int64_t batch_size, const std::string& scaling) {
  if (scaling == "linear") return lr_base * static_cast<double>(batch_size) / 256.0;
  if (scaling == "sqrt") return lr_base * std::sqrt(static_cast<double>(batch_size));
  throw Error(fmt::format("unknown learning-rate scaling '{}'; choose linear or sqrt", scaling));
}

double warmup_cosine(double t, double total, double warmup, double peak) {
  if (warmup > 0 && t < warmup) return peak * t / warmup;
  const double span = total - warmup;
  if (span <= 0) return peak;
  const double progress = std::clamp((t - warmup) / span, 0.0, 1.0);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace simclr::optim

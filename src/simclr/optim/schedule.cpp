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

int64_t epoch_budget_steps(int64_t epochs, int64_t batches_per_epoch) {
  SIMCLR_CHECK(epochs >= 0 && batches_per_epoch >= 0, "negative budget: {} epochs of {} batches", epochs,
               batches_per_epoch);
  SIMCLR_CHECK(batches_per_epoch == 0 || epochs <= kMaxBudgetSteps / batches_per_epoch,
               "train.epochs {} of {} batches each is more than {} optimizer steps, a budget longer than any run; "
               "lower train.epochs to at most {}",
               epochs, batches_per_epoch, kMaxBudgetSteps, kMaxBudgetSteps / std::max<int64_t>(batches_per_epoch, 1));
  return epochs * batches_per_epoch;
}

std::optional<std::string> schedule_warning(double total_steps, double warmup_fraction) {
  constexpr double kFewSteps = 10;
  std::string out;
  if (total_steps < kFewSteps) {
    out = fmt::format("the budget is only {:g} optimizer steps, too few for the learning-rate schedule (warm-up, "
                      "then cosine decay) to mean anything; give train.steps or train.epochs a larger value",
                      total_steps);
  }
  const double warmup = warmup_fraction * total_steps;
  if (warmup > 0 && warmup < 1) {
    out += fmt::format("{}optim.lr_warmup_fraction {:g} of {:g} steps is a warm-up of {:.2g} steps: step 0 runs at "
                       "learning rate 0 and step 1 at the peak, so there is no warm-up in effect; budget at least "
                       "{:g} steps, or set optim.lr_warmup_fraction to 0",
                       out.empty() ? "" : "; ", warmup_fraction, total_steps, warmup, std::ceil(1 / warmup_fraction));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

}  // namespace simclr::optim

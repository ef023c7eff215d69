// SimCLR's learning-rate schedule: the peak rate scaled from the batch size,
// a linear warm-up, then cosine decay to 0 without restarts (paper B.1 and
// the official code's learning_rate_schedule()).
#pragma once
#include <string>

namespace simclr::optim {

// lr_base * B / 256 ("linear") or lr_base * sqrt(B) ("sqrt").
double scaled_lr(double lr_base, int64_t batch_size, const std::string& scaling);

// Learning rate at position t of a run of length `total` (in steps, or in
// seconds for a wall-clock budget) with a warm-up of `warmup`:
//   t < warmup: peak * t / warmup
//   else:       peak * (1 + cos(pi * min(t - warmup, total - warmup) / (total - warmup))) / 2
double warmup_cosine(double t, double total, double warmup, double peak);

}  // namespace simclr::optim

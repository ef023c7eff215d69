// SimCLR's learning-rate schedule: the peak rate scaled from the batch size,
// a linear warm-up, then cosine decay to 0 without restarts (paper B.1 and
// the official code's learning_rate_schedule()).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace simclr::optim {

// lr_base * B / 256 ("linear") or lr_base * sqrt(B) ("sqrt").
double scaled_lr(double lr_base, int64_t batch_size, const std::string& scaling);

// Learning rate at position t of a run of length `total` (in steps, or in
// seconds for a wall-clock budget) with a warm-up of `warmup`:
//   t < warmup: peak * t / warmup
//   else:       peak * (1 + cos(pi * min(t - warmup, total - warmup) / (total - warmup))) / 2
double warmup_cosine(double t, double total, double warmup, double peak);

// The largest budget in optimizer steps (config validation allows
// train.steps up to the same): exact in int64 and in double.
constexpr int64_t kMaxBudgetSteps = 1'000'000'000'000;

// train.epochs x batches per epoch, the step budget of an epoch budget.
// Throws simclr::Error naming train.epochs when it exceeds kMaxBudgetSteps.
int64_t epoch_budget_steps(int64_t epochs, int64_t batches_per_epoch);

// A warning for a run too short for its schedule, to log once at start, or
// nothing: `total_steps` is the budget in optimizer steps (train.steps, or
// epochs x batches per epoch; a wall-clock budget has no step count before
// it runs) and `warmup_fraction` is optim.lr_warmup_fraction. Warns when the
// budget is under 10 steps, or when a non-zero warm-up is under one step
// (step 0 then runs at learning rate 0 and step 1 at the peak).
std::optional<std::string> schedule_warning(double total_steps, double warmup_fraction);

}  // namespace simclr::optim

// Compute precision of the training and evaluation passes. bf16 runs the
// convolutions and matrix products under CPU autocast (weights stay fp32,
// the loss is computed in fp32); fp32 is the exact reference path.
#pragma once
#include <string>

namespace simclr::train {

enum class Precision { kFp32, kBf16 };

// True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX).
bool cpu_has_bf16();

// "auto" picks bf16 where the CPU has it, else fp32.
Precision resolve_precision(const std::string& name);
std::string to_string(Precision precision);

// Enables autocast to bf16 on the CPU for its lifetime when asked to.
class AutocastGuard {
 public:
  explicit AutocastGuard(Precision precision);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_ = false;
  bool previous_ = false;
};

}  // namespace simclr::train

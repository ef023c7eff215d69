// Compute precision of the training and evaluation passes. bf16 runs the
// convolutions and matrix products under CPU autocast (weights stay fp32,
// the loss is computed in fp32); fp32 is the exact reference path.
#pragma once
#include <torch/torch.h>

#include <string>

namespace simclr::train {

enum class Precision { kFp32, kBf16 };

// True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX).
bool cpu_has_bf16();

// The device a run computes on, chosen once: "auto" is CUDA when this
// LibTorch build sees a GPU, else the CPU. Everything else moves tensors to
// it explicitly.
torch::Device resolve_device(const std::string& name);

// "auto" picks bf16 on a CPU that has it, else fp32 (and fp32 on CUDA).
Precision resolve_precision(const std::string& name, const torch::Device& device = torch::kCPU);
std::string to_string(Precision precision);

// Enables autocast to bf16 on `device`'s type for its lifetime when asked to.
class AutocastGuard {
 public:
  explicit AutocastGuard(Precision precision, const torch::Device& device = torch::kCPU);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool enabled_ = false;
  bool cuda_ = false;
  bool previous_ = false;
};

}  // namespace simclr::train

// Compute precision of the training and evaluation passes. bf16 runs the
// convolutions and matrix products under autocast (weights stay fp32, the
// loss is computed in fp32); fp16 does the same on CUDA and needs loss
// scaling (LossScaler), since fp16 gradients underflow; fp32 is the exact
// reference path.
#pragma once
#include <torch/torch.h>

#include <string>

namespace simclr {

enum class Precision { kFp32, kBf16, kFp16 };

// True when the CPU has native bf16 arithmetic (AVX512-BF16 or AMX).
bool cpu_has_bf16();
// True when the CPU has AMX bf16 tiles (oneDNN's brgemm AMX kernels).
bool cpu_has_amx_bf16();

// The device a run computes on, chosen once: "auto" is CUDA when this
// LibTorch build sees a GPU, else the CPU. Everything else moves tensors to
// it explicitly.
torch::Device resolve_device(const std::string& name);

// "auto" picks bf16 on a CPU that has it, else fp32 (and fp32 on CUDA).
// fp16 is refused on the CPU (no fast fp16 kernels; use bf16).
Precision resolve_precision(const std::string& name, const torch::Device& device = torch::kCPU);
std::string to_string(Precision precision);

// train.channels_last as it can be honoured: on a CPU without AVX-512 it is
// off (with one warning), because Debian's oneDNN (LibTorch 1.13) computes
// the channels-last convolution backward pass of narrow layers past the end
// of its buffers there: valgrind shows invalid writes at width 4, and the
// heap corruption crashes training within a few steps.
bool resolve_channels_last(bool requested, const torch::Device& device);

// Enables autocast to bf16/fp16 on `device`'s type for its lifetime when asked to.
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

// Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler): the loss is
// multiplied by a large scale before backward so small gradients survive in
// fp16; the gradients are divided by it before the step. A step whose
// gradients hold inf/NaN is skipped and the scale halved; after
// `growth_interval` good steps in a row it doubles. Disabled, it is the
// identity and never skips.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }
  torch::Tensor scale_loss(const torch::Tensor& loss) const;
  // Unscales the gradients of `params` in place; false when any is
  // non-finite (then skip optimizer.step()). Updates the scale either way.
  bool unscale_and_update(const std::vector<torch::Tensor>& params);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, good_steps_ = 0;
};

}  // namespace simclr

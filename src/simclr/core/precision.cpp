#include "simclr/core/precision.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <mutex>

#include <spdlog/spdlog.h>

#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/core/torch_compat.h"

namespace simclr {

bool cpu_has_bf16() {
  static const bool has = [] {
    const auto isa = cpu_isa();
    return std::find(isa.begin(), isa.end(), "avx512_bf16") != isa.end() ||
           std::find(isa.begin(), isa.end(), "amx_bf16") != isa.end();
  }();
  return has;
}

bool cpu_has_amx_bf16() {
  static const bool has = [] {
    const auto isa = cpu_isa();
    return std::find(isa.begin(), isa.end(), "amx_bf16") != isa.end();
  }();
  return has;
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    SIMCLR_CHECK(torch::cuda::is_available(),
                 "train.device is cuda but this LibTorch sees no GPU (a CPU-only build, or no driver); use --train.device "
                 "cpu or auto");
    return torch::kCUDA;
  }
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  throw Error(fmt::format("unknown device '{}'; choose auto, cpu or cuda", name));
}

Precision resolve_precision(const std::string& name, const torch::Device& device) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") {
    SIMCLR_CHECK(device.is_cuda() || cpu_has_bf16(),
                 "train.precision bf16 needs a CPU with AVX512-BF16 or AMX instructions, which this one lacks; use fp32 "
                 "or auto");
    return Precision::kBf16;
  }
  if (name == "fp16") {
    SIMCLR_CHECK(device.is_cuda(),
                 "train.precision fp16 is for CUDA devices (with loss scaling); on a CPU use bf16 (on CPUs with "
                 "AVX512-BF16/AMX) or fp32");
    return Precision::kFp16;
  }
  if (name == "auto") return !device.is_cuda() && cpu_has_bf16() ? Precision::kBf16 : Precision::kFp32;
  throw Error(fmt::format("unknown precision '{}'; choose auto, fp32, bf16 or fp16 (CUDA)", name));
}

bool resolve_channels_last(bool requested, const torch::Device& device) {
  if (!requested || device.is_cuda()) return requested;
  static const bool avx512 = [] {
    const auto isa = cpu_isa();
    return std::find(isa.begin(), isa.end(), "avx512f") != isa.end();
  }();
  if (!avx512) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      spdlog::warn("channels-last convolutions are off on this CPU (no AVX-512): its oneDNN kernels corrupt memory "
                   "in the backward pass of narrow layers");
    });
  }
  return avx512;
}

std::string to_string(Precision precision) {
  switch (precision) {
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
    default: return "fp32";
  }
}

AutocastGuard::AutocastGuard(Precision precision, const torch::Device& device)
    : enabled_(precision != Precision::kFp32), cuda_(device.is_cuda()) {
  if (!enabled_) return;
  const auto type = cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  previous_ = compat::autocast_enabled(type);
  compat::set_autocast(type, true, precision == Precision::kFp16 ? at::kHalf : at::kBFloat16);
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  compat::set_autocast_enabled(cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU, previous_);
  if (!previous_) at::autocast::clear_cache();
}

LossScaler::LossScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_interval_(growth_interval) {
  SIMCLR_CHECK(init_scale > 0 && growth_interval >= 1, "loss scaler needs a positive scale and growth interval");
}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }

bool LossScaler::unscale_and_update(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  bool finite = true;
  for (const auto& p : params) {
    auto g = p.grad();
    if (!g.defined()) continue;
    g.mul_(1.0 / scale_);
    if (finite && !torch::isfinite(g).all().item<bool>()) finite = false;
  }
  if (!finite) {
    scale_ *= 0.5;
    good_steps_ = 0;
  } else if (++good_steps_ == growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
  return finite;
}

}  // namespace simclr

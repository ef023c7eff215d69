#include "simclr/train/precision.h"

#include <ATen/autocast_mode.h>

#include <fstream>
#include <sstream>

#include "simclr/core/error.h"

namespace simclr::train {

bool cpu_has_bf16() {
  static const bool has = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream words(line);
      std::string w;
      while (words >> w) {
        if (w == "avx512_bf16" || w == "amx_bf16") return true;
      }
      return false;
    }
    return false;
  }();
  return has;
}

Precision resolve_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "auto") return cpu_has_bf16() ? Precision::kBf16 : Precision::kFp32;
  throw Error(fmt::format("unknown precision '{}'; choose auto, fp32 or bf16", name));
}

std::string to_string(Precision precision) { return precision == Precision::kBf16 ? "bf16" : "fp32"; }

AutocastGuard::AutocastGuard(Precision precision) : enabled_(precision == Precision::kBf16) {
  if (!enabled_) return;
  previous_ = at::autocast::is_cpu_enabled();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
}

AutocastGuard::~AutocastGuard() {
  if (!enabled_) return;
  at::autocast::set_cpu_enabled(previous_);
  if (!previous_) at::autocast::clear_cache();
}

}  // namespace simclr::train

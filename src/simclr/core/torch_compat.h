// Every difference between the LibTorch versions simclr builds against
// (1.13 through 2.x: Debian 12's, Debian 13's, a LibTorch zip, pip's torch)
// lives here, so the rest of the code is written once.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <variant>

#define SIMCLR_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if SIMCLR_TORCH_AT_LEAST(2, 0)
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace simclr::compat {

// The module options' variants (Conv2dOptions::padding, ...) are
// c10::variant up to 2.1 and std::variant from 2.2, where c10::get is gone.
template <class T, class Variant>
const T& get(const Variant& v) {
#if SIMCLR_TORCH_AT_LEAST(2, 2)
  return std::get<T>(v);
#else
  return c10::get<T>(v);
#endif
}

// Since 2.0 ProcessGroupGloo and ProcessGroupNCCL derive from c10d::Backend,
// and a c10d::ProcessGroup is a dispatcher over backends. simclr holds the
// backend directly: the collectives it calls are the same on both.
#if SIMCLR_TORCH_AT_LEAST(2, 0)
using ProcessGroup = c10d::Backend;
#else
using ProcessGroup = c10d::ProcessGroup;
#endif

// Since 2.4 TCPStore defaults to its libuv backend, which Debian's 2.6 is
// built without (every rendezvous then fails); the classic backend is in
// every version and interoperates with torchrun's store. (The option came
// with the libuv backend in 2.1, pytorch/pytorch#105672.)
inline void use_classic_tcp_store(c10d::TCPStoreOptions& options) {
#if SIMCLR_TORCH_AT_LEAST(2, 1)
  options.useLibUV = false;
#else
  (void)options;
#endif
}

// Autocast state per device type: 2.4 replaced the device-specific
// functions (set_autocast_cpu_dtype, set_cpu_enabled, ...) with ones that
// take the device type.
inline bool autocast_enabled(c10::DeviceType device) {
#if SIMCLR_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

inline void set_autocast_enabled(c10::DeviceType device, bool enabled) {
#if SIMCLR_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_enabled(device, enabled);
#else
  if (device == c10::DeviceType::CUDA) at::autocast::set_enabled(enabled);
  else at::autocast::set_cpu_enabled(enabled);
#endif
}

inline c10::ScalarType autocast_dtype(c10::DeviceType device) {
#if SIMCLR_TORCH_AT_LEAST(2, 4)
  return at::autocast::get_autocast_dtype(device);
#else
  return device == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                         : at::autocast::get_autocast_cpu_dtype();
#endif
}

// oneDNN 2.x (LibTorch 1.13) runs a bf16 convolution's backward-weights on
// kernels that are slow on small maps (models/conv2d.h); LibTorch 2.0 and
// later ship oneDNN 3, for which simclr has no such measurement, so the
// GEMM route stays off there.
constexpr bool kOneDnnSlowConvBackward = !SIMCLR_TORCH_AT_LEAST(2, 0);

inline void set_autocast(c10::DeviceType device, bool enabled, c10::ScalarType dtype) {
#if SIMCLR_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(device, dtype);
#else
  if (device == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
#endif
  set_autocast_enabled(device, enabled);
}

#ifdef USE_C10D_NCCL
// An NCCL group should be shut down before exit (2.2 added the call, and
// 2.4 warns at exit without it); before 2.2 its destructor does the work.
inline void shutdown(c10d::ProcessGroupNCCL& group) {
#if SIMCLR_TORCH_AT_LEAST(2, 2)
  group.shutdown();
#else
  (void)group;
#endif
}
#endif

}  // namespace simclr::compat

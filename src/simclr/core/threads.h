#pragma once
#include <string>

namespace simclr {

// Number of cores this process may use (affinity-aware, at least 1).
int available_cores();

// Sets LibTorch's intra-op and inter-op thread counts. LibTorch as packaged
// by Debian starts with one intra-op thread, so this must always be called;
// threads <= 0 means every available core.
int configure_torch_threads(int threads);

// One line describing the compute setup (threads, BLAS, ISA) for logs.
std::string describe_compute();

}  // namespace simclr

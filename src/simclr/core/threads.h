#pragma once
#include <string>
#include <vector>

namespace simclr {

// Number of cores this process may use (affinity-aware, at least 1).
int available_cores();

// LibTorch threads for one of `local_ranks` processes sharing this machine:
// `requested` when set (> 0), else an equal share of the cores (0 = all
// cores for a process alone).
int threads_per_rank(int requested, int local_ranks);

// `requested` threads, or available_cores() with a warning naming `key`
// when it asks for more (a config copied from a bigger machine still runs).
int clamp_to_cores(int requested, const std::string& key);

// Sets LibTorch's intra-op and inter-op thread counts. LibTorch as packaged
// by Debian starts with one intra-op thread, so this must always be called;
// threads <= 0 means every available core, and more than the cores are
// clamped to them (clamp_to_cores).
int configure_torch_threads(int threads);

// How the cores are split between LibTorch's intra-op threads (the model)
// and the loader's worker threads (decode + augment). Set together so they do
// not oversubscribe the cores. By default the model gets every core and the
// loader the cores the model leaves, at least 1 and a quarter of the cores
// (at most 16): decoding and augmenting a small-image batch costs a few
// percent of a training step (docs/results.md), so on a laptop one worker
// overlaps it without taking a core away, while 64 cores that train 30x
// faster, or large JPEGs, get 16 workers. The training loop measures the
// time it waits for data and warns when the loader is the bottleneck.
struct ThreadPlan {
  int torch_threads = 1;
  int loader_workers = 1;
  int cores = 1;
  std::string describe() const;
};

// Applies the plan: LibTorch intra-op threads, and OpenCV's own pool switched
// off (cv::setNumThreads(1)) so that every OpenCV call inside a loader worker
// stays on that worker's thread. 0 means auto for either count; either is
// clamped to the cores (clamp_to_cores).
ThreadPlan configure_threads(int torch_threads, int loader_workers);

// The BLAS library LibTorch's matrix products resolve to at run time (the
// file that provides sgemm_, symlinks resolved) and its kind: "OpenBLAS",
// "MKL", "reference" (netlib, about 30x slower) or "unknown".
struct BlasInfo {
  std::string kind, path;
};
BlasInfo blas_info();

// The CPU's vector extensions that matter for training speed, from
// /proc/cpuinfo: avx2, avx512f, avx512_vnni, avx512_bf16, amx_bf16.
std::vector<std::string> cpu_isa();

// The malloc this process runs on: "tcmalloc", "jemalloc" or "glibc".
std::string memory_allocator();

// What makes this process slow that the user can fix: a reference BLAS, a
// single intra-op thread on a multi-core machine (that `local_ranks`
// processes do not share). Empty when all is well.
std::vector<std::string> compute_warnings(int local_ranks = 1);

// One line describing the compute setup (threads, BLAS, ISA) for logs.
std::string describe_compute();

}  // namespace simclr

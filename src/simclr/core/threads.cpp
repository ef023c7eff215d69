#include "simclr/core/threads.h"

#include <dlfcn.h>
#include <sched.h>
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace simclr {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int clamp_to_cores(int requested, const std::string& key) {
  const int cores = available_cores();
  if (requested <= cores) return requested;
  // A config written on a bigger machine still runs here; more threads than
  // cores would only make them wait on each other.
  spdlog::warn("{} = {} is more than the {} cores this process may use; using {} (0 picks the count automatically)",
               key, requested, cores, cores);
  return cores;
}

int configure_torch_threads(int threads) {
  const int n = threads > 0 ? clamp_to_cores(threads, "train.threads") : available_cores();
  torch::set_num_threads(n);
  // Inter-op parallelism is unused by a single training loop; it may only be
  // set once per process, so tolerate a second call (tests call this often).
  try {
    torch::set_num_interop_threads(1);
  } catch (const std::exception&) {
  }
  return n;
}

std::string ThreadPlan::describe() const {
  return fmt::format("{} cores: {} model (intra-op) threads, {} loader workers", cores, torch_threads, loader_workers);
}

int threads_per_rank(int requested, int local_ranks) {
  if (requested > 0 || local_ranks <= 1) return requested;
  return std::max(1, available_cores() / local_ranks);
}

ThreadPlan configure_threads(int torch_threads, int loader_workers) {
  ThreadPlan plan;
  plan.cores = available_cores();
  plan.torch_threads = configure_torch_threads(torch_threads);
  plan.loader_workers =
      loader_workers > 0 ? clamp_to_cores(loader_workers, "data.workers")
                         : std::max(1, std::min(16, std::max(plan.cores / 4, plan.cores - plan.torch_threads)));
  cv::setNumThreads(1);
  if (plan.torch_threads + plan.loader_workers > 2 * plan.cores) {
    spdlog::warn("{} model threads and {} loader workers on {} cores oversubscribe the CPU; lower --threads or "
                 "--data.workers",
                 plan.torch_threads, plan.loader_workers, plan.cores);
  }
  return plan;
}

BlasInfo blas_info() {
  BlasInfo info{"unknown", ""};
  void* symbol = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info where{};
  if (symbol && dladdr(symbol, &where) && where.dli_fname) {
    std::error_code ec;
    const auto real = std::filesystem::canonical(where.dli_fname, ec);
    info.path = ec ? std::string(where.dli_fname) : real.string();
  }
  std::string lower = info.path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (dlsym(RTLD_DEFAULT, "openblas_get_config") || lower.find("openblas") != std::string::npos) info.kind = "OpenBLAS";
  else if (lower.find("mkl") != std::string::npos) info.kind = "MKL";
  else if (lower.find("/blas/") != std::string::npos || lower.find("libblas.so") != std::string::npos) info.kind = "reference";
  return info;
}

std::vector<std::string> cpu_isa() {
  static const std::set<std::string> wanted = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"};
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (wanted.count(w)) out.push_back(w);
    }
    break;
  }
  return out;
}

std::string memory_allocator() {
  // An AddressSanitizer build (scripts/test-sanitized.sh) replaces malloc
  // with ASan's own; advice about glibc's does not apply there.
  if (dlsym(RTLD_DEFAULT, "__asan_init")) return "asan";
  if (dlsym(RTLD_DEFAULT, "tc_malloc")) return "tcmalloc";
  if (dlsym(RTLD_DEFAULT, "mallctl")) return "jemalloc";
  return "glibc";
}

std::vector<std::string> compute_warnings(int local_ranks) {
  std::vector<std::string> out;
  if (memory_allocator() == "glibc") {
    out.push_back("the memory allocator is glibc's malloc, which page-faults every large activation back in on each "
                  "step (about 1.3x slower training here); build with -DSIMCLR_TCMALLOC=ON (libgoogle-perftools-dev) "
                  "or run with LD_PRELOAD=libtcmalloc_minimal.so.4");
  }
  const auto blas = blas_info();
  if (blas.kind == "reference") {
    out.push_back(fmt::format("LibTorch uses the reference BLAS ({}), about 30x slower for matrix products; install "
                              "libopenblas0-pthread (Debian selects it automatically)",
                              blas.path));
  }
  // Ranks that share the machine each take their share of the cores.
  if (torch::get_num_threads() * std::max(1, local_ranks) < available_cores() && torch::get_num_threads() == 1) {
    out.push_back(fmt::format("LibTorch runs on 1 intra-op thread of {} cores; pass --threads 0 to use them all",
                              available_cores()));
  }
  return out;
}

std::string describe_compute() {
  const auto blas = blas_info();
  return fmt::format("torch {} | intra-op threads {} | cores {} | BLAS {} | oneDNN {} | malloc {}", TORCH_VERSION,
                     torch::get_num_threads(), available_cores(), blas.kind, at::hasMKLDNN() ? "yes" : "no",
                     memory_allocator());
}

}  // namespace simclr

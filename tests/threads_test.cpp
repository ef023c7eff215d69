#include "simclr/core/threads.h"

#include <opencv2/core.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "test_util.h"

namespace simclr {
namespace {

TEST(Threads, ModelAndLoaderThreadsArePlannedTogether) {
  const int cores = available_cores();
  ThreadPlan plan = configure_threads(1, 0);
  EXPECT_EQ(plan.cores, cores);
  EXPECT_EQ(plan.torch_threads, 1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  // Auto workers: the cores the model leaves, at least a quarter of them.
  EXPECT_EQ(plan.loader_workers, std::max(1, std::min(16, std::max(cores / 4, cores - 1))));
  // OpenCV's own pool is off, so augmentation never adds threads of its own.
  EXPECT_EQ(cv::getNumThreads(), 1);
  plan = configure_threads(0, 3);
  EXPECT_EQ(plan.torch_threads, cores);
  EXPECT_EQ(torch::get_num_threads(), cores);
  EXPECT_EQ(plan.loader_workers, std::min(3, cores));
  plan = configure_threads(0, 0);
  EXPECT_EQ(plan.loader_workers, std::max(1, std::min(16, cores / 4)));  // the model has every core
  EXPECT_NE(plan.describe().find("loader workers"), std::string::npos);
}

TEST(Threads, CountsBeyondTheCoresAreClampedWithAWarning) {
  // A config from a bigger machine: more threads and workers than cores here.
  const int cores = available_cores();
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  const ThreadPlan plan = configure_threads(cores + 5, cores + 3);
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_EQ(plan.torch_threads, cores);
  EXPECT_EQ(torch::get_num_threads(), cores);
  EXPECT_EQ(plan.loader_workers, cores);
  EXPECT_NE(log.str().find(fmt::format("train.threads = {} is more than the {} cores", cores + 5, cores)),
            std::string::npos)
      << log.str();
  EXPECT_NE(log.str().find(fmt::format("data.workers = {} is more than the {} cores", cores + 3, cores)),
            std::string::npos)
      << log.str();
  EXPECT_EQ(clamp_to_cores(1, "x"), 1);
  EXPECT_EQ(clamp_to_cores(cores, "x"), cores);
  configure_torch_threads(0);
}

TEST(Threads, BlasAndThreadWarnings) {
  const auto blas = blas_info();
  EXPECT_FALSE(blas.path.empty());  // some library provides sgemm_
  // scripts/setup.sh installs OpenBLAS; the reference BLAS would be a warning.
  EXPECT_EQ(blas.kind, "OpenBLAS") << blas.path;
  configure_torch_threads(1);
  const auto warnings = compute_warnings();
  const bool single_thread_warned =
      std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) { return w.find("1 intra-op") != std::string::npos; });
  EXPECT_EQ(single_thread_warned, available_cores() > 1);
  configure_torch_threads(0);
  EXPECT_TRUE(compute_warnings().empty());
  EXPECT_NE(describe_compute().find("BLAS OpenBLAS"), std::string::npos);
}

TEST(Threads, ProgramsRunOnTcmalloc) {
  // Linked by CMake (SIMCLR_TCMALLOC): the test binary links the library
  // exactly as the program does, so it must see tcmalloc's malloc too.
#ifdef SIMCLR_EXPECT_TCMALLOC
  EXPECT_EQ(memory_allocator(), "tcmalloc");
  EXPECT_NE(describe_compute().find("malloc tcmalloc"), std::string::npos);
#else
  GTEST_SKIP() << "built with -DSIMCLR_TCMALLOC=OFF";
#endif
}

}  // namespace
}  // namespace simclr

#include "simclr/train/throughput.h"

#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#ifdef SIMCLR_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/data/dataset.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/core/precision.h"
#include "simclr/train/pretrain.h"
#include "simclr/train/step.h"

namespace simclr::train {

double time_step_pairs_per_s(models::SimclrModel& model, const loss::LossOptions& loss, int64_t batch,
                             int64_t channels, int64_t side, Precision precision, const torch::Device& device,
                             bool channels_last, const MicroBatching& micro, int timed) {
  using Clock = std::chrono::steady_clock;
  BufferSnapshot running_statistics(*model);
  auto x = torch::rand({2 * batch, channels, side, side}, torch::TensorOptions().device(device));
  if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  double seconds = 0;
  for (int i = 0; i <= timed; ++i) {
    const auto t0 = Clock::now();
    const auto out = forward_loss(model, x, loss, precision, device, {}, micro);
    out.loss.backward();
    // The copy to the host waits for the backward kernels queued before it.
    (void)out.loss.detach().to(torch::kCPU);
    if (i > 0) seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  }
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  return static_cast<double>(batch * timed) / std::max(seconds, 1e-9);
}

GemmPeak measure_gemm_peak(torch::ScalarType dtype, const torch::Device& device, double seconds_per_size) {
  using Clock = std::chrono::steady_clock;
  torch::NoGradGuard no_grad;
  GemmPeak best;
  for (int64_t n : {1024, 2048, 4096}) {
    const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
    const auto a = torch::randn({n, n}, options).to(dtype), b = torch::randn({n, n}, options).to(dtype);
    auto c = torch::mm(a, b);  // untimed: first-call setup (oneDNN primitive creation, page faults)
    if (device.is_cuda()) torch::cuda::synchronize();
    int64_t reps = 0;
    const auto t0 = Clock::now();
    double elapsed = 0;
    while (elapsed < seconds_per_size || reps < 2) {
      at::mm_out(c, a, b);
      if (device.is_cuda()) torch::cuda::synchronize();
      ++reps;
      elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    const double gflops = 2.0 * static_cast<double>(n) * n * n * reps / elapsed / 1e9;
    if (gflops > best.gflops) best = {gflops, n};
  }
  return best;
}

double training_flops_per_pair(const models::SimclrModelImpl& model, int64_t side) {
  const double forward = static_cast<double>(model.encoder->forward_flops(side) + model.head->forward_flops());
  return 2 /* views */ * 3 /* forward, input gradient, weight gradient */ * forward;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// NT-Xent forward + backward on [batch, dim] projections, median of 5.
double time_loss(int64_t batch, int64_t dim, double temperature, const torch::Device& device) {
  auto z1 = torch::randn({batch, dim}, torch::TensorOptions().device(device).requires_grad(true));
  auto z2 = torch::randn({batch, dim}, torch::TensorOptions().device(device).requires_grad(true));
  std::vector<double> times;
  for (int i = 0; i < 6; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    loss::nt_xent(z1, z2, temperature).loss.backward();
    if (device.is_cuda()) torch::cuda::synchronize();
    if (i > 0) times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(times);
}

// A temporary directory, removed with everything in it when this goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "simclr-bench-XXXXXX").string();
    SIMCLR_CHECK(::mkdtemp(pattern.data()) != nullptr, "cannot create a temporary directory under {}; set TMPDIR",
                 std::filesystem::temp_directory_path().string());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TrainingBench benchmark_training(config::Config config, const TrainingBenchOptions& options,
                                 std::shared_ptr<distributed::Communicator> comm) {
  SIMCLR_CHECK(options.warmup_steps >= 0 && options.timed_steps >= 1,
               "bench needs at least 1 timed step and no negative warm-up, got {} and {}", options.timed_steps,
               options.warmup_steps);
  config::validate(config);
  TrainingBench b;
  const int local_ranks = comm ? comm->local_world_size() : 1;
  const ThreadPlan threads = configure_threads(threads_per_rank(static_cast<int>(config.train.threads), local_ranks),
                                               static_cast<int>(config.data.workers));
  b.torch_threads = threads.torch_threads;
  b.loader_workers = threads.loader_workers;
  b.cores = threads.cores;
  const torch::Device device = resolve_device(config.train.device);
  const Precision precision = resolve_precision(config.train.precision, device);
  b.precision = to_string(precision);
  b.device = device.str();
  b.batch_size = config.train.batch_size;
  if (options.gemm && !comm) {
    b.fp32 = measure_gemm_peak(torch::kFloat, device);
    if (device.is_cuda() || cpu_has_bf16()) b.bf16 = measure_gemm_peak(torch::kBFloat16, device);
  }

  // The model's arithmetic, from the same config the run builds it from.
  auto dataset = data::open_dataset(config.data, data::Split::kTrain, true);
  b.side = augment::AugmentOptions::from_config(config.augment, dataset->image_side()).size;
  {
    const auto model = models::build_model(config.model, dataset->channels(), b.side);
    b.flops_per_pair = training_flops_per_pair(*model, b.side);
  }
  const double peak = precision == Precision::kBf16 ? b.bf16.gflops : b.fp32.gflops;
  b.limit_pairs_per_s = peak * 1e9 / b.flops_per_pair;

  config.train.steps = options.warmup_steps + options.timed_steps;
  config.train.minutes = 0;
  config.train.epochs = 0;
  config.train.checkpoint_every = 0;
  config.eval.knn_every_steps = 0;
  config.eval.knn_every_epochs = 0;
  {
    TempDir dir;
    const auto r = pretrain(config, dir.path() + "/run", false, {}, comm);
    config = r.config;  // with the recipe's choices
    SIMCLR_CHECK(static_cast<int64_t>(r.step_seconds.size()) == config.train.steps, "bench ran {} of {} steps",
                 r.step_seconds.size(), config.train.steps);
    b.step_seconds.assign(r.step_seconds.begin() + options.warmup_steps, r.step_seconds.end());
    b.data_wait_fraction = r.data_wait_fraction;
    b.payload_bytes_per_step = r.payload_bytes_per_step;
    b.sent_bytes_per_step = r.sent_bytes_per_step;
  }
  b.pairs_per_s = static_cast<double>(b.batch_size) / median(b.step_seconds);
  b.fraction_of_limit = b.limit_pairs_per_s > 0 ? b.pairs_per_s / b.limit_pairs_per_s : 0;
  b.loss_seconds = time_loss(b.batch_size, config.model.head_dim, config.loss.temperature.value(), device);
  b.peak_rss_mib = peak_rss_mib();
#ifdef SIMCLR_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
    const auto* props = at::cuda::getDeviceProperties(index);
    b.cuda_device_name = props->name;
    b.cuda_memory_mib = static_cast<double>(props->totalGlobalMem) / (1 << 20);
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    // Entry 0 is StatType::AGGREGATE (all pools) in every version; the enum
    // itself moved from c10::cuda::CUDACachingAllocator to
    // c10::CachingDeviceAllocator between 1.13 and 2.6.
    b.cuda_peak_allocated_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);
  }
#endif
  b.peak_rss_mib_all_ranks = b.peak_rss_mib;
  if (comm) {
    b.ranks = comm->world_size();
    b.peak_rss_mib_all_ranks = comm->sum({b.peak_rss_mib})[0];
  }
  return b;
}

}  // namespace simclr::train

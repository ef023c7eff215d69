// Micro-benchmarks of the pieces of a SimCLR step: view generation, the
// NT-Xent loss, and a whole training step of the encoder + head. Each
// benchmark checks its result once before timing it. Timings are noisy on
// shared machines: compare ratios within one run, not absolute numbers.
//
//   build/bench/simclr_bench --benchmark_filter=TrainStep
#include <benchmark/benchmark.h>

#include "simclr/config/config.h"
#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/models/simclr_model.h"
#include "simclr/optim/lars.h"
#include "simclr/core/precision.h"
#include "simclr/train/step.h"

namespace {
using namespace simclr;

void check(bool ok, const char* what) {
  if (!ok) throw Error(std::string("benchmark self-check failed: ") + what);
}

// Two views of one image per iteration; items = pairs.
void BM_AugmentPair(benchmark::State& state) {
  const int side = static_cast<int>(state.range(0)), channels = static_cast<int>(state.range(1));
  augment::AugmentOptions o;
  o.size = side;
  o.color_strength = 0.5;
  o.blur_p = side > 64 ? 0.5 : 0.0;
  augment::SimclrAugment aug(o);
  cv::Mat image(side, side, CV_8UC(channels));
  cv::randu(image, 0, 255);
  Rng rng(1);
  const auto v = aug(image, rng);
  check(v.rows == side && v.cols == side && v.channels() == channels, "view shape");
  for (auto _ : state) {
    benchmark::DoNotOptimize(aug(image, rng));
    benchmark::DoNotOptimize(aug(image, rng));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AugmentPair)->Args({28, 1})->Args({32, 3})->Args({96, 3})->Unit(benchmark::kMicrosecond);

// Forward + backward of NT-Xent on N pairs of 128-d projections.
void BM_NtXent(benchmark::State& state) {
  configure_torch_threads(0);
  const int64_t n = state.range(0);
  auto z1 = torch::randn({n, 128}, torch::requires_grad()), z2 = torch::randn({n, 128}, torch::requires_grad());
  check(std::isfinite(loss::nt_xent(z1, z2, 0.5).loss.item<double>()), "finite loss");
  for (auto _ : state) {
    auto out = loss::nt_xent(z1, z2, 0.5);
    out.loss.backward();
    benchmark::DoNotOptimize(z1.grad().data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_NtXent)->Arg(256)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

// One optimizer step of ResNet-18 (CIFAR stem) + head on 2 x batch views.
// Args: width, side, channels, batch, bf16, channels_last. items = pairs.
void BM_TrainStep(benchmark::State& state) {
  configure_torch_threads(0);
  config::ModelConfig mc;
  mc.width = state.range(0);
  const int64_t side = state.range(1), channels = state.range(2), batch = state.range(3);
  const auto precision = state.range(4) ? Precision::kBf16 : Precision::kFp32;
  const bool channels_last = state.range(5) != 0;
  if (precision == Precision::kBf16 && !cpu_has_bf16()) {
    state.SkipWithError("this CPU has no bf16 instructions");
    return;
  }
  torch::manual_seed(0);
  auto model = models::build_model(mc, channels, side);
  if (channels_last) models::to_channels_last(*model);
  optim::Lars optimizer(model->parameters(), {});
  optimizer.set_lr(0.1);
  LossScaler scaler(false);
  const auto parameters = model->parameters();
  auto x = torch::rand({2 * batch, channels, side, side});
  if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  auto step = [&] {
    const auto out = train::forward_loss(model, x, 0.5, precision, torch::kCPU);
    train::backward_and_step(out.loss, optimizer, scaler, parameters);
    return out.loss.item<double>();
  };
  check(std::isfinite(step()), "finite loss");
  for (auto _ : state) benchmark::DoNotOptimize(step());
  state.SetItemsProcessed(state.iterations() * batch);
  state.SetLabel(fmt::format("{} threads", torch::get_num_threads()));
}
// Fashion-MNIST, width 32, batch 256: fp32 NCHW, fp32 channels-last, bf16 channels-last.
BENCHMARK(BM_TrainStep)
    ->Args({32, 28, 1, 256, 0, 0})
    ->Args({32, 28, 1, 256, 0, 1})
    ->Args({32, 28, 1, 256, 1, 1})
    ->Args({64, 32, 3, 256, 1, 1})  // issue 5's CIFAR-10 setting
    ->Unit(benchmark::kMillisecond)
    ->MinTime(5.0);

}  // namespace

BENCHMARK_MAIN();

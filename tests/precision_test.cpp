// Precision selection, autocast and fp16 loss scaling.
#include "simclr/core/precision.h"

#include <ATen/autocast_mode.h>

#include "simclr/core/error.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/step.h"
#include "simclr/train/throughput.h"
#include "test_util.h"

namespace simclr::train {
namespace {

TEST(PrecisionChoice, ResolvesNamesAndRefusesWhatTheDeviceCannotDo) {
  EXPECT_EQ(resolve_precision("fp32"), Precision::kFp32);
  EXPECT_EQ(resolve_precision("auto"), cpu_has_bf16() ? Precision::kBf16 : Precision::kFp32);
  try {
    resolve_precision("fp16");
    FAIL() << "fp16 on the CPU must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_precision("half"), Error);
  EXPECT_EQ(to_string(Precision::kFp16), "fp16");
}

TEST(PrecisionChoice, AutocastGuardRunsConvolutionsInBf16AndRestores) {
  if (!cpu_has_bf16()) GTEST_SKIP() << "no bf16 on this CPU";
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3));
  const auto x = torch::rand({2, 3, 8, 8});
  {
    AutocastGuard guard(Precision::kBf16);
    EXPECT_EQ(conv(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat);
  {
    AutocastGuard guard(Precision::kFp32);
    EXPECT_EQ(conv(x).scalar_type(), torch::kFloat);
  }
}

TEST(PrecisionChoice, Bf16EncoderOutputIsCloseToFp32) {
  // The fast path against the exact one: same weights, same images.
  if (!cpu_has_bf16()) GTEST_SKIP() << "no bf16 on this CPU";
  torch::manual_seed(0);
  config::ModelConfig mc;
  mc.width = 8;
  auto model = models::build_model(mc, 3, 32);
  model->eval();
  const auto x = torch::rand({4, 3, 32, 32});
  torch::NoGradGuard no_grad;
  const auto exact = model->forward(x).h;
  torch::Tensor fast;
  {
    AutocastGuard guard(Precision::kBf16);
    fast = model->forward(x.contiguous(at::MemoryFormat::ChannelsLast)).h.to(torch::kFloat);
  }
  const double rel = ((fast - exact).norm() / exact.norm()).item<double>();
  EXPECT_LT(rel, 2e-2);  // bf16 keeps 8 bits of mantissa: ~0.4% per rounding
  EXPECT_GT(rel, 0.0);   // and it did run in bf16
}

TEST(LossScaler, DisabledIsTheIdentity) {
  LossScaler s(false);
  const auto loss = torch::tensor(2.5);
  EXPECT_DOUBLE_EQ(s.scale_loss(loss).item<double>(), 2.5);
  auto p = torch::ones({2}, torch::requires_grad());
  p.mutable_grad() = torch::full({2}, std::numeric_limits<float>::infinity());
  EXPECT_TRUE(s.unscale_and_update({p}));  // never skips: the NaN-loss check handles fp32/bf16
}

TEST(LossScaler, UnscalesSkipsOverflowsAndGrows) {
  LossScaler s(true, 1024.0, /*growth_interval=*/3);
  auto p = torch::ones({3}, torch::requires_grad());
  (s.scale_loss((p * torch::tensor({1.0f, 2.0f, 3.0f})).sum())).backward();
  EXPECT_TRUE(torch::allclose(p.grad(), torch::full({3}, 1024.0f) * torch::tensor({1.0f, 2.0f, 3.0f})));
  EXPECT_TRUE(s.unscale_and_update({p}));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::tensor({1.0f, 2.0f, 3.0f})));  // true gradient again
  p.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::quiet_NaN(), 0.0f});
  EXPECT_FALSE(s.unscale_and_update({p}));  // overflow: skip the step
  EXPECT_DOUBLE_EQ(s.scale(), 512.0);
  for (int i = 0; i < 3; ++i) {
    p.mutable_grad() = torch::ones({3});
    EXPECT_TRUE(s.unscale_and_update({p}));
  }
  EXPECT_DOUBLE_EQ(s.scale(), 1024.0);  // three good steps in a row: doubled
}

TEST(TrainStep, OverflowedGradientsSkipTheOptimizerStep) {
  auto w = torch::ones({3}, torch::requires_grad());
  optim::Lars optimizer({w}, {});
  optimizer.set_lr(0.1);
  LossScaler scaler(true, 1e38);  // gradient 10 x 1e38 overflows fp32
  EXPECT_FALSE(backward_and_step((w * 10).sum(), optimizer, scaler, {w}));
  EXPECT_TRUE(torch::equal(w.detach(), torch::ones({3})));  // untouched
  EXPECT_DOUBLE_EQ(scaler.scale(), 5e37);
  EXPECT_TRUE(backward_and_step(w.sum(), optimizer, scaler, {w}));  // 5e37 x 1 fits: a real step
  EXPECT_FALSE(torch::equal(w.detach(), torch::ones({3})));
}

TEST(Throughput, TrainingFlopsAreSixForwardPasses) {
  config::ModelConfig mc;
  mc.width = 16;
  const auto model = models::build_model(mc, 1, 28);
  const double forward = static_cast<double>(model->encoder->forward_flops(28) + model->head->forward_flops());
  EXPECT_DOUBLE_EQ(training_flops_per_pair(*model, 28), 6 * forward);
}

TEST(Throughput, GemmPeakIsMeasured) {
  const auto peak = measure_gemm_peak(torch::kFloat, torch::kCPU, 0.01);
  EXPECT_GT(peak.gflops, 0.1);
  EXPECT_TRUE(peak.size == 1024 || peak.size == 2048 || peak.size == 4096);
  EXPECT_GT(peak_rss_mib(), 1.0);
}

}  // namespace
}  // namespace simclr::train

// The GPU path: each test runs where LibTorch sees a CUDA device and skips,
// saying so, everywhere else (a CPU LibTorch, or a CUDA one without a GPU).
// scripts/gpu_check.sh runs them on a GPU machine.
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <torch/script.h>

#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/distributed/communicator.h"
#include "simclr/serialize/torchscript_export.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/step.h"
#include "test_util.h"

namespace simclr {
namespace {
using testing::TempDir;

#define SKIP_WITHOUT_GPU()                                                                     \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device (LibTorch " TORCH_VERSION \
                                                    "): run scripts/gpu_check.sh on a GPU machine"

models::SimclrModel small_model() {
  config::ModelConfig mc;
  mc.width = 8;
  mc.head_dim = 16;
  torch::manual_seed(5);
  return models::build_model(mc, 3, 16);
}

torch::Tensor views(int seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return at::rand({16, 3, 16, 16}, gen);  // [view 1 (8); view 2 (8)]
}

// Loss and weights after `steps` LARS steps of `model` on `device`.
std::pair<std::vector<double>, std::vector<torch::Tensor>> train(models::SimclrModel model, torch::Device device,
                                                                 Precision precision, int steps = 3) {
  model->to(device);
  const auto parameters = model->parameters();
  optim::Lars optimizer(parameters, {0.9, 1e-6, 1e-3, true});
  optimizer.set_lr(0.1);
  LossScaler scaler(precision == Precision::kFp16);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    const auto out = train::forward_loss(model, views(s).to(device), 0.5, precision, device);
    losses.push_back(out.loss.item<double>());
    train::backward_and_step(out.loss, optimizer, scaler, parameters);
  }
  std::vector<torch::Tensor> weights;
  for (const auto& p : parameters) weights.push_back(p.detach().cpu());
  return {losses, weights};
}

TEST(Cuda, TrainingStepsMatchTheCpuInFp32) {
  SKIP_WITHOUT_GPU();
  // cuDNN's convolution algorithms and reductions sum in other orders than
  // oneDNN's: fp32 agrees to about 1e-5 per step; three steps stay within 1e-3.
  const auto [cpu_loss, cpu_w] = train(small_model(), torch::kCPU, Precision::kFp32);
  const auto [gpu_loss, gpu_w] = train(small_model(), torch::kCUDA, Precision::kFp32);
  for (size_t s = 0; s < cpu_loss.size(); ++s) EXPECT_NEAR(gpu_loss[s], cpu_loss[s], 1e-4) << "step " << s;
  for (size_t i = 0; i < cpu_w.size(); ++i) {
    EXPECT_TRUE(torch::allclose(gpu_w[i], cpu_w[i], 1e-3, 1e-4)) << "parameter " << i;
  }
}

TEST(Cuda, Bf16AndFp16AutocastTrain) {
  SKIP_WITHOUT_GPU();
  const auto [fp32_loss, w32] = train(small_model(), torch::kCUDA, Precision::kFp32);
  for (auto precision : {Precision::kBf16, Precision::kFp16}) {
    const auto [loss, w] = train(small_model(), torch::kCUDA, precision);
    for (size_t s = 0; s < loss.size(); ++s) {
      EXPECT_TRUE(std::isfinite(loss[s]));
      EXPECT_NEAR(loss[s], fp32_loss[s], 0.05) << "step " << s;  // bf16 keeps 8 bits of mantissa
    }
    for (const auto& t : w) EXPECT_EQ(t.scalar_type(), torch::kFloat);  // weights stay fp32 under autocast
  }
}

TEST(Cuda, Fp16LossScalingSkipsOverflowedSteps) {
  SKIP_WITHOUT_GPU();
  auto w = torch::ones({3}, torch::TensorOptions().device(torch::kCUDA).requires_grad(true));
  optim::Lars optimizer({w}, {});
  optimizer.set_lr(0.1);
  LossScaler scaler(true, 1e38);
  EXPECT_FALSE(train::backward_and_step((w * 10).sum(), optimizer, scaler, {w}));
  EXPECT_TRUE(torch::equal(w.detach().cpu(), torch::ones({3})));
  EXPECT_TRUE(train::backward_and_step(w.sum(), optimizer, scaler, {w}));
  EXPECT_FALSE(torch::equal(w.detach().cpu(), torch::ones({3})));
}

TEST(Cuda, LoaderHandsPinnedBatchesToNonBlockingCopies) {
  SKIP_WITHOUT_GPU();
  TempDir dir;
  testing::write_toy_idx(dir.str(), 32, 8);
  std::shared_ptr<data::Dataset> dataset = data::IdxDataset::open_folder(dir.str(), data::Split::kTrain);
  augment::AugmentOptions ao;
  ao.size = 12;
  pipeline::LoaderOptions lo;
  lo.batch_size = 8;
  lo.pin_memory = true;
  pipeline::ContrastiveLoader loader(dataset, augment::SimclrAugment(ao), lo);
  loader.start_epoch(0);
  const auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_TRUE(batch->views.is_pinned());
  const auto x = batch->views.to(torch::kCUDA, /*non_blocking=*/true);
  torch::cuda::synchronize();
  EXPECT_TRUE(torch::equal(x.cpu(), batch->views));
  EXPECT_TRUE(torch::equal(batch->view1, batch->views.narrow(0, 0, 8)));
}

TEST(Cuda, NcclCommunicatorWithOneRankAndWithTwoGpus) {
  SKIP_WITHOUT_GPU();
#ifndef USE_C10D_NCCL
  GTEST_SKIP() << "this LibTorch was built without NCCL";
#else
  const int gpus = static_cast<int>(torch::cuda::device_count());
  for (int world : {1, 2}) {
    if (world > gpus) {
      std::cout << "[ SKIPPED  ] two NCCL ranks need two GPUs; this machine has " << gpus << "\n";
      break;
    }
    auto store = c10::make_intrusive<c10d::HashStore>();
    std::vector<std::thread> ranks;
    std::vector<double> sums(world);
    for (int r = 0; r < world; ++r) {
      ranks.emplace_back([&, r] {
        distributed::CommunicatorOptions o;
        o.backend = "nccl";
        o.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(r));
        distributed::Communicator comm(store, store, r, world, o);
        auto t = torch::full({4}, static_cast<double>(r + 1), torch::TensorOptions().device(o.device));
        comm.all_reduce_(t);
        sums[r] = t.sum().item<double>();
      });
    }
    for (auto& t : ranks) t.join();
    const double expected = 4.0 * world * (world + 1) / 2;  // 4 elements x (1 + ... + W)
    for (int r = 0; r < world; ++r) EXPECT_DOUBLE_EQ(sums[r], expected) << world << " ranks, rank " << r;
  }
#endif
}

TEST(Cuda, ExportedTorchScriptRunsOnCuda) {
  SKIP_WITHOUT_GPU();
  auto model = small_model();
  model->eval();
  TempDir dir;
  const std::string path = dir.str() + "/export.pt";
  serialize::ExportInfo info;
  info.input_size = 16;
  serialize::export_torchscript(model, info, /*with_head=*/false, path);
  auto module = torch::jit::load(path, torch::kCUDA);
  const auto x = views(9);
  const auto h_gpu = module.forward({x.to(torch::kCUDA)}).toTensor().cpu();
  torch::NoGradGuard no_grad;
  const auto h_cpu = model->encoder->forward(x);
  EXPECT_TRUE(torch::allclose(h_gpu, h_cpu, 1e-3, 1e-4));
}

TEST(Cuda, BenchReportsTheDeviceAndItsMemory) {
  SKIP_WITHOUT_GPU();
  TempDir dir;
  testing::write_toy_idx(dir.str(), 64, 8);
  const auto [code, out] = testing::run_cli("bench --data.path " + dir.str() +
                                       " --train.batch_size 16 --model.width 8 --train.device cuda --warmup-steps 1"
                                       " --timed-steps 2 --skip-gemm --json",
                                   /*stdout_only=*/true);
  ASSERT_EQ(code, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("device"), "cuda:0");
  EXPECT_FALSE(j.at("cuda_device_name").get<std::string>().empty());
  EXPECT_GT(j.at("cuda_memory_mib").get<double>(), 0);
  EXPECT_GT(j.at("cuda_peak_allocated_mib").get<double>(), 0);
}

}  // namespace
}  // namespace simclr

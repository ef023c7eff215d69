// Data-parallel training over c10d/Gloo on loopback. Ranks run as threads of
// this process (one Communicator each over a shared HashStore) for the
// numerical tests, and as separate `simclr` processes for launching and
// faults. The central claim: W ranks with global batch B compute the same
// loss, gradients and weights as one process with batch B, which needs both
// global negatives and global batch norm.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "simclr/models/batch_norm.h"
#include "simclr/distributed/collectives.h"
#include "simclr/distributed/communicator.h"
#include "simclr/distributed/gradient_sync.h"
#include "simclr/distributed/launch.h"
#include "simclr/distributed/sync_batch_norm.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/pretrain.h"
#include "simclr/train/negative_memory.h"
#include "simclr/train/step.h"
#include "step_reference.h"
#include "test_util.h"

namespace simclr::distributed {
namespace {
using namespace simclr::testing;
using namespace std::chrono_literals;
using Comm = std::shared_ptr<Communicator>;

// Runs fn on `world` ranks, each a thread with its own Communicator.
void run_ranks(int world, const std::function<void(const Comm&)>& fn,
               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::string> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        CommunicatorOptions o;
        o.timeout = timeout;
        fn(std::make_shared<Communicator>(store, store, r, world, o));
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
}


// ---- launch environment ----

EnvLookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(Launch, ReadsTorchrunSlurmOrNothing) {
  auto single = detect_launch(env_of({}));
  EXPECT_FALSE(single.distributed());
  EXPECT_EQ(single.world_size, 1);

  auto t = detect_launch(env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                                 {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "29400"}}));
  EXPECT_EQ(t.launcher, "env");
  EXPECT_EQ(t.rank, 3);
  EXPECT_EQ(t.world_size, 4);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.local_world_size, 2);
  EXPECT_EQ(t.master_addr, "10.0.0.5");
  EXPECT_EQ(t.master_port, 29400);
  EXPECT_FALSE(t.launcher_hosts_store);
  auto agent = detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                     {"TORCHELASTIC_RESTART_COUNT", "2"}}));
  EXPECT_TRUE(agent.launcher_hosts_store);
  EXPECT_EQ(agent.restart, 2);

  auto s = detect_launch(env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                 {"SLURM_NTASKS_PER_NODE", "4(x2)"}, {"SLURM_STEP_NODELIST", "gpu[007-008]"},
                                 {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(s.launcher, "slurm");
  EXPECT_EQ(s.rank, 5);
  EXPECT_EQ(s.world_size, 8);
  EXPECT_EQ(s.local_rank, 1);
  EXPECT_EQ(s.local_world_size, 4);
  EXPECT_EQ(s.master_addr, "gpu007");
  EXPECT_EQ(s.master_port, 20000 + 123456 % 20000);
  // srun's own per-node list, on the fourth node of "2(x3),1".
  auto uneven = detect_launch(env_of({{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "7"}, {"SLURM_NODEID", "3"},
                                      {"SLURM_STEP_TASKS_PER_NODE", "2(x3),1"}, {"SLURM_STEP_NODELIST", "n[1-4]"}}));
  EXPECT_EQ(uneven.local_world_size, 1);
  EXPECT_EQ(uneven.master_addr, "n1");

  // torchrun inside an srun step: torchrun's variables win.
  auto both = detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}));
  EXPECT_EQ(both.launcher, "env");

  EXPECT_EQ(first_slurm_host("node1"), "node1");
  EXPECT_EQ(first_slurm_host("a[03-05,9],b7"), "a03");
  EXPECT_EQ(first_slurm_host("x[2,4]-ib"), "x2-ib");
  EXPECT_EQ(first_slurm_host("b[1-2],a[5-6]"), "b1");
}

TEST(Launch, MalformedVariablesAreNamed) {
  EXPECT_NE(error_of([] { detect_launch(env_of({{"RANK", "1"}})); }).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of([] { detect_launch(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); }).find("RANK='x'"),
            std::string::npos);
  EXPECT_NE(error_of([] { detect_launch(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); }).find("not below"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}));
            }).find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              detect_launch(env_of({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}}));
            }).find("MASTER_ADDR"),
            std::string::npos);
  EXPECT_NE(error_of([] { detect_launch(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}})); })
                .find("MASTER_ADDR"),
            std::string::npos);
}

// ---- collectives and their gradients ----

TEST(Collectives, AllReduceAndGatherSendEveryRanksGradientBack) {
  constexpr int kWorld = 3;
  run_ranks(kWorld, [&](const Comm& comm) {
    const int r = comm->rank();
    auto x = torch::full({2, 2}, r + 1.0, torch::kDouble).requires_grad_();
    auto y = all_reduce_sum(x, *comm);
    EXPECT_TRUE(torch::allclose(y, torch::full({2, 2}, 6.0, torch::kDouble)));
    // L_r = (r + 1) * sum(y): dL/dx_r summed over ranks = 1 + 2 + 3.
    ((r + 1.0) * y.sum()).backward();
    EXPECT_TRUE(torch::allclose(x.grad(), torch::full({2, 2}, 6.0, torch::kDouble)));

    auto rows = torch::full({2, 3}, static_cast<double>(r), torch::kDouble).requires_grad_();
    auto all = gather_rows(rows, *comm);
    ASSERT_EQ(all.size(0), 2 * kWorld);
    for (int k = 0; k < kWorld; ++k) EXPECT_EQ(all[2 * k][0].item<double>(), k);
    // L_r = (r + 1) * sum(all): each rank's rows get 1 + 2 + 3.
    ((r + 1.0) * all.sum()).backward();
    EXPECT_TRUE(torch::allclose(rows.grad(), torch::full({2, 3}, 6.0, torch::kDouble)));
  });
}

// The global NT-Xent of W ranks, L = (1/W) sum_k L_k, each L_k being rank
// k's anchors against everyone's projections: the gather's backward must give
// rank r dL/dx_r. Checked against central finite differences of L computed in
// one place, and shown to differ from the naive gradient dL_r/dx_r / W.
TEST(Collectives, GatheredNtXentGradientMatchesFiniteDifferences) {
  constexpr int kWorld = 2, kRows = 6, kDim = 5;
  constexpr double kTau = 0.5;
  torch::manual_seed(3);
  const auto x_all = torch::randn({kWorld * kRows, kDim}, torch::kDouble);
  auto global_loss = [&](const torch::Tensor& x) {
    const auto z = loss::normalize_projections(x);
    torch::Tensor total = torch::zeros({}, torch::kDouble);
    for (int k = 0; k < kWorld; ++k) total = total + loss::nt_xent_anchors(z, k * kRows, kRows, kTau).loss;
    return total / kWorld;
  };
  // Finite differences of the global loss.
  auto fd = torch::zeros_like(x_all);
  const double eps = 1e-6;
  for (int64_t i = 0; i < x_all.numel(); ++i) {
    auto plus = x_all.clone(), minus = x_all.clone();
    plus.view(-1)[i] += eps;
    minus.view(-1)[i] -= eps;
    fd.view(-1)[i] = (global_loss(plus).item<double>() - global_loss(minus).item<double>()) / (2 * eps);
  }
  std::vector<torch::Tensor> grads(kWorld);
  run_ranks(kWorld, [&](const Comm& comm) {
    const int r = comm->rank();
    auto x = x_all.narrow(0, r * kRows, kRows).clone().requires_grad_();
    const auto all = gather_rows(loss::normalize_projections(x), *comm);
    (loss::nt_xent_anchors(all, r * kRows, kRows, kTau).loss / kWorld).backward();
    grads[static_cast<size_t>(r)] = x.grad().clone();
  });
  const auto distributed = torch::cat(grads, 0);
  EXPECT_LT(relative_difference(distributed, fd), 1e-7);
  // The mistake: keeping only the own loss's gradient (a gather whose
  // backward slices instead of summing) is far off.
  auto naive = torch::zeros_like(x_all);
  for (int r = 0; r < kWorld; ++r) {
    auto x = x_all.clone().requires_grad_();
    (loss::nt_xent_anchors(loss::normalize_projections(x), r * kRows, kRows, kTau).loss / kWorld).backward();
    naive.narrow(0, r * kRows, kRows).copy_(x.grad().narrow(0, r * kRows, kRows));
  }
  EXPECT_GT(relative_difference(naive, fd), 0.1);
}

TEST(Collectives, GlobalBatchNormEqualsBatchNormOfTheWholeBatch) {
  constexpr int kWorld = 3;
  torch::manual_seed(5);
  const auto x_all = torch::randn({kWorld * 4, 5, 3, 3}, torch::kDouble) * 2 + 1;
  const auto weights_out = torch::randn({kWorld * 4, 5, 3, 3}, torch::kDouble);
  const auto gamma = torch::rand({5}, torch::kDouble) + 0.5, beta = torch::randn({5}, torch::kDouble);
  auto make_bn = [&] {
    models::BatchNorm bn(5);
    bn->to(torch::kDouble);
    torch::NoGradGuard no_grad;
    bn->weight.copy_(gamma);
    bn->bias.copy_(beta);
    return bn;
  };
  // One process, the whole batch.
  auto reference = make_bn();
  auto x_ref = x_all.clone().requires_grad_();
  const auto y_ref = reference(x_ref);
  (y_ref * weights_out).sum().backward();

  std::vector<torch::Tensor> y(kWorld), dx(kWorld), dgamma(kWorld), dbeta(kWorld), mean(kWorld), var(kWorld);
  run_ranks(kWorld, [&](const Comm& comm) {
    const auto r = static_cast<size_t>(comm->rank());
    auto bn = make_bn();
    EXPECT_EQ(models::set_batch_norm_sync(*bn, comm), 1);
    auto x = x_all.narrow(0, comm->rank() * 4, 4).clone().requires_grad_();
    y[r] = bn(x);
    (y[r] * weights_out.narrow(0, comm->rank() * 4, 4)).sum().backward();
    dx[r] = x.grad();
    dgamma[r] = bn->weight.grad();
    dbeta[r] = bn->bias.grad();
    mean[r] = bn->running_mean.clone();
    var[r] = bn->running_var.clone();
  });
  EXPECT_LT(relative_difference(torch::cat(y), y_ref), 1e-12);
  EXPECT_LT(relative_difference(torch::cat(dx), x_ref.grad()), 1e-12);
  // Parameter gradients: each rank holds its own loss's part; they add up.
  EXPECT_LT(relative_difference(dgamma[0] + dgamma[1] + dgamma[2], reference->weight.grad()), 1e-12);
  EXPECT_LT(relative_difference(dbeta[0] + dbeta[1] + dbeta[2], reference->bias.grad()), 1e-12);
  for (int r = 0; r < kWorld; ++r) {
    EXPECT_LT(relative_difference(mean[r], reference->running_mean), 1e-12);
    EXPECT_LT(relative_difference(var[r], reference->running_var), 1e-12);
  }
}

// The fused global BN (LibTorch's kernels, custom backward) against the
// plain one autograd differentiates, in the layouts and precisions training
// uses: double, fp32 and bf16 (what autocast feeds it), NCHW and channels-last.
TEST(Collectives, FusedGlobalBatchNormMatchesThePlainOne) {
  constexpr int kWorld = 2;
  struct Case {
    torch::Dtype dtype;
    at::MemoryFormat format;
    double tolerance;
  };
  for (const auto& k : {Case{torch::kDouble, at::MemoryFormat::Contiguous, 1e-12},
                        Case{torch::kFloat, at::MemoryFormat::ChannelsLast, 1e-5},
                        Case{torch::kBFloat16, at::MemoryFormat::ChannelsLast, 2e-2}}) {
    SCOPED_TRACE(c10::toString(k.dtype));
    const auto param_type = k.dtype == torch::kDouble ? torch::kDouble : torch::kFloat;
    torch::manual_seed(9);
    const auto x_all = (torch::randn({kWorld * 3, 6, 4, 4}) * 3 + 2).to(k.dtype);
    const auto g_all = torch::randn({kWorld * 3, 6, 4, 4}).to(k.dtype);
    const auto gamma = (torch::rand({6}) + 0.5).to(param_type), beta = torch::randn({6}).to(param_type);
    struct Out {
      torch::Tensor y, dx, dw, db, running_mean, running_var;
    };
    std::vector<Out> fused(kWorld), plain(kWorld);
    run_ranks(kWorld, [&](const Comm& comm) {
      const auto r = static_cast<size_t>(comm->rank());
      for (bool use_fused : {true, false}) {
        auto w = gamma.clone().requires_grad_(), b = beta.clone().requires_grad_();
        BatchNormState bn{w, b, torch::zeros({6}, param_type), torch::ones({6}, param_type),
                          torch::zeros({}, torch::kLong), 0.1, 1e-5};
        auto x = x_all.narrow(0, comm->rank() * 3, 3).contiguous(k.format).requires_grad_();
        const auto y = use_fused ? sync_batch_norm(x, bn, *comm) : sync_batch_norm_reference(x, bn, *comm);
        EXPECT_EQ(y.scalar_type(), k.dtype);
        EXPECT_TRUE(y.is_contiguous(k.format));
        y.backward(g_all.narrow(0, comm->rank() * 3, 3).contiguous(k.format));
        (use_fused ? fused : plain)[r] = {y.detach(), x.grad(), w.grad(), b.grad(), bn.running_mean, bn.running_var};
      }
    });
    for (size_t r = 0; r < kWorld; ++r) {
      EXPECT_LT(relative_difference(fused[r].y, plain[r].y), k.tolerance);
      EXPECT_LT(relative_difference(fused[r].dx, plain[r].dx), k.tolerance);
      EXPECT_LT(relative_difference(fused[r].dw, plain[r].dw), k.tolerance);
      EXPECT_LT(relative_difference(fused[r].db, plain[r].db), k.tolerance);
      EXPECT_LT(relative_difference(fused[r].running_mean, plain[r].running_mean), k.tolerance);
      EXPECT_LT(relative_difference(fused[r].running_var, plain[r].running_var), k.tolerance);
    }
  }
}

// ---- the equivalence of W ranks and one process ----

struct Trace : StepTrace {
  size_t buckets = 0;
  int64_t overlapped = 0;
};

models::SimclrModel tiny_model(torch::Dtype dtype) {
  config::ModelConfig mc;
  mc.width = 4;
  mc.head_dim = 8;
  torch::manual_seed(11);
  auto model = models::build_model(mc, 3, 16);
  model->to(dtype);
  if (dtype == torch::kDouble) models::to_channels_last(*model);
  return model;
}

constexpr int64_t kBatch = 6;  // divisible by 1, 2 and 3 ranks
constexpr int kSteps = 3;

// Step s's global batch of views, [view 1 (B); view 2 (B)].
torch::Tensor global_views(int step, torch::Dtype dtype) {
  auto gen = at::detail::createCPUGenerator(100 + step);
  return at::rand({2 * kBatch, 3, 16, 16}, gen).to(dtype);
}

// How a step runs its forward passes: in one, in micro-batches (the
// gradient cache), or as the plain reference of the micro-batches; and
// whether a memory of negatives (train/negative_memory.h) adds negatives.
enum class Passes { kOne, kMicro, kMicroReference };
struct StepMode {
  Passes passes = Passes::kOne;
  train::MicroBatching micro;
  int64_t queue = 0;
  bool sync_bn = false;  // also for the momentum model (set by train_ranks)
};

// kSteps training steps (fp32, LARS) on this rank's slice of each global batch.
// With a queue, `momentum` is the momentum model (built here if null; the
// rank threads get theirs built beforehand, since seeding LibTorch's global
// generator from several threads at once interleaves their draws).
Trace train_steps(models::SimclrModel model, const Comm& comm, bool global_negatives, double bucket_mb,
                  const StepMode& mode = {}, models::SimclrModel momentum = nullptr) {
  const int world = comm ? comm->world_size() : 1, rank = comm ? comm->rank() : 0;
  const int64_t n = kBatch / world;
  const auto parameters = model->parameters();
  optim::Lars optimizer(parameters, {0.9, 1e-6, 1e-3, true});
  optimizer.set_lr(0.1);
  LossScaler scaler(false);
  std::unique_ptr<GradientAverager> averager;
  if (comm) averager = std::make_unique<GradientAverager>(parameters, comm, bucket_mb);
  const train::Parallel parallel{comm.get(), global_negatives, averager.get()};
  std::unique_ptr<train::NegativeMemory> memory;
  if (mode.queue > 0) {
    if (!momentum) momentum = tiny_model(model->parameters().front().scalar_type());
    if (comm && mode.sync_bn) models::set_batch_norm_sync(*momentum, comm);
    memory = std::make_unique<train::NegativeMemory>(momentum, model, mode.queue, 8, 0.9);
  }
  Trace trace;
  for (int s = 0; s < kSteps; ++s) {
    const auto views = global_views(s, model->parameters().front().scalar_type());
    const auto x = torch::cat({views.narrow(0, rank * n, n), views.narrow(0, kBatch + rank * n, n)})
                       .contiguous(model->parameters().front().suggest_memory_format());
    loss::LossOptions nt_xent;
    nt_xent.temperature = 0.5;
    torch::Tensor negatives;
    if (memory) {
      memory->begin_step(model, x, Precision::kFp32, torch::kCPU, mode.micro, comm.get());
      negatives = memory->negatives();
    }
    const auto out =
        mode.passes == Passes::kMicroReference
            ? reference_forward_loss(model, x, nt_xent, mode.micro, parallel)
            : train::forward_loss(model, x, nt_xent, Precision::kFp32, torch::kCPU, parallel,
                                  mode.passes == Passes::kMicro ? mode.micro : train::MicroBatching{}, negatives);
    double loss = out.loss.item<double>();
    if (comm) loss = comm->sum({loss})[0] / world;
    trace.losses.push_back(loss);
    train::backward_and_step(out.loss, optimizer, scaler, parameters, parallel);
    if (memory) memory->commit();
    if (s == 0) {
      for (const auto& p : parameters) trace.first_grads.push_back(p.grad().clone());
    }
  }
  for (const auto& p : parameters) trace.weights.push_back(p.detach().clone());
  for (const auto& b : model->buffers()) trace.buffers.push_back(b.detach().clone());
  if (averager) {
    trace.buckets = averager->bucket_count();
    trace.overlapped = averager->overlapped_buckets();
  }
  return trace;
}

std::vector<Trace> train_ranks(int world, bool sync_bn, bool global_negatives, torch::Dtype dtype,
                               double bucket_mb = 25, StepMode mode = {}) {
  mode.sync_bn = sync_bn;
  std::vector<models::SimclrModel> models, momentum(static_cast<size_t>(world), nullptr);
  for (int r = 0; r < world; ++r) models.push_back(tiny_model(dtype));
  if (mode.queue > 0) {
    for (auto& m : momentum) m = tiny_model(dtype);
  }
  std::vector<Trace> traces(static_cast<size_t>(world));
  run_ranks(world, [&](const Comm& comm) {
    const auto r = static_cast<size_t>(comm->rank());
    if (sync_bn) models::set_batch_norm_sync(*models[r], comm);
    traces[r] = train_steps(models[r], comm, global_negatives, bucket_mb, mode, momentum[r]);
  });
  return traces;
}

// In double precision (and channels-last, the training layout) the runs
// agree to rounding, 1e-10 (measured 1e-14): the algorithm is the same. In
// fp32, the 1e-5: summation orders differ, nothing else. The fp32
// run is NCHW because oneDNN's channels-last fp32 convolutions pick
// batch-size-dependent algorithms whose rounding alone reaches 1e-5 on this
// tiny model (NCHW: 3.5e-6 for the gradients, 1e-6 for the weights).
TEST(DataParallel, TwoAndThreeRanksTrainExactlyLikeOneProcess) {
  for (const auto& [dtype, tolerance] : {std::pair{torch::kDouble, 1e-10}, std::pair{torch::kFloat, 1e-5}}) {
    const auto single = train_steps(tiny_model(dtype), nullptr, true, 25);
    for (int world : {2, 3}) {
      // A small bucket size splits the gradients into many buckets.
      const auto traces = train_ranks(world, true, true, dtype, world == 2 ? 0.01 : 25);
      for (int r = 0; r < world; ++r) {
        SCOPED_TRACE(fmt::format("{} world {} rank {}", c10::toString(dtype), world, r));
        expect_same_run(traces[static_cast<size_t>(r)], single, tolerance);
      }
      if (world == 2) {
        EXPECT_GT(traces[0].buckets, 3u);
        EXPECT_GT(traces[0].overlapped, 0) << "no bucket's all-reduce started during backward";
      }
    }
  }
}

// The gradient cache across ranks: global negatives over every rank's
// micro-batches, global batch norm per micro-batch, the gradient averager
// summing each parameter's passes. Against the plain step with the same
// passes on the same ranks, in double (1e-10) and fp32 (1e-5); micro-batches
// of 2 pairs do not divide 3 pairs per rank.
TEST(DataParallel, MicroBatchesOnTwoAndThreeRanksEqualThePlainStep) {
  for (const auto& [dtype, tolerance] : {std::pair{torch::kDouble, 1e-10}, std::pair{torch::kFloat, 1e-5}}) {
    for (int world : {1, 2, 3}) {
      const train::MicroBatching micro{2, false};
      const auto ref = train_ranks(world, true, true, dtype, 0.01, {Passes::kMicroReference, micro});
      const auto cached = train_ranks(world, true, true, dtype, 0.01, {Passes::kMicro, micro});
      for (int r = 0; r < world; ++r) {
        SCOPED_TRACE(fmt::format("{} world {} rank {}", c10::toString(dtype), world, r));
        expect_same_run(cached[static_cast<size_t>(r)], ref[static_cast<size_t>(r)], tolerance);
      }
    }
  }
}

// A memory of negatives across ranks: every rank's keys gathered, so the
// memory and the run are those of one process with the global batch. A
// memory of 20 fills at step 2 (12 keys a step) and wraps at step 3.
TEST(DataParallel, AMemoryOfNegativesOnTwoAndThreeRanksTrainsLikeOneProcess) {
  StepMode with_queue;
  with_queue.queue = 20;
  const auto single = train_steps(tiny_model(torch::kDouble), nullptr, true, 25, with_queue);
  const auto plain = train_steps(tiny_model(torch::kDouble), nullptr, true, 25);
  EXPECT_GT(std::abs(single.losses[1] - plain.losses[1]), 1e-3) << "the memory changed nothing";
  for (int world : {2, 3}) {
    const auto traces = train_ranks(world, true, true, torch::kDouble, 25, with_queue);
    for (int r = 0; r < world; ++r) {
      SCOPED_TRACE(fmt::format("world {} rank {}", world, r));
      expect_same_run(traces[static_cast<size_t>(r)], single, 1e-10);
    }
  }
}

TEST(DataParallel, WithoutGlobalNegativesOrGlobalBatchNormTheRunDiffers) {
  const auto single = train_steps(tiny_model(torch::kDouble), nullptr, true, 25);
  const auto local_bn = train_ranks(2, false, true, torch::kDouble);
  const auto local_negatives = train_ranks(2, true, false, torch::kDouble);
  EXPECT_GT(std::abs(local_bn[0].losses[0] - single.losses[0]), 1e-4);
  EXPECT_GT(std::abs(local_negatives[0].losses[0] - single.losses[0]), 1e-2);
  EXPECT_GT(relative_difference(flat(local_bn[0].first_grads), flat(single.first_grads)), 1e-3);
  EXPECT_GT(relative_difference(flat(local_negatives[0].first_grads), flat(single.first_grads)), 1e-3);
}

// The real training loop: two ranks stop at step 2, three ranks resume it to
// step 4, and the run matches one process doing all 4 steps.
TEST(DataParallel, PretrainResumesWithAnotherNumberOfRanks) {
  TempDir data, run;
  write_toy_idx(data.str(), 48, 8);
  auto config = toy_config(data.str());
  // The paper's lr and temperature: toy_config's lr 0.5, or the short-budget
  // recipe's, make fp32 rounding grow past 1e-5 in 4 steps.
  config.optim.lr_base.reset();
  config.train.recipe = "paper";
  config.train.batch_size = 6;
  config.train.steps = 4;
  config.train.threads = 1;
  config.data.workers = 1;
  config.train.channels_last = false;  // see TwoAndThreeRanksTrainExactlyLikeOneProcess
  train::pretrain(config, run / "single", false);
  run_ranks(2, [&](const Comm& comm) {
    const auto r = train::pretrain(config, run / "split", false, [](const serialize::TrainState& s) { return s.step == 2; }, comm);
    EXPECT_TRUE(r.interrupted);
    EXPECT_GT(r.payload_bytes_per_step, 0);
  });
  run_ranks(3, [&](const Comm& comm) {
    const auto r = train::pretrain(config, run / "split", true, {}, comm);
    EXPECT_EQ(r.state.step, 4);
  });
  auto losses = [](const std::string& dir) {
    std::ifstream in(dir + "/metrics.jsonl");
    std::vector<double> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
    return out;
  };
  const auto a = losses(run / "single"), b = losses(run / "split");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t s = 0; s < a.size(); ++s) EXPECT_NEAR(a[s], b[s], 1e-5 * std::abs(a[s])) << "step " << s;
  serialize::CheckpointReader ra(run / "single"), rb(run / "split");
  auto ma = models::build_model(config.model, 1, 12), mb = models::build_model(config.model, 1, 12);
  ra.load_model(ma);
  rb.load_model(mb);
  EXPECT_EQ(rb.state().step, 4);
  EXPECT_LT(relative_difference(flat(ma->parameters()), flat(mb->parameters())), 1e-5);
  EXPECT_LT(relative_difference(flat(ma->buffers()), flat(mb->buffers())), 1e-5);
}

// ---- processes: launching and faults ----

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A shell command in the background, its output in `log`.
pid_t spawn(const std::string& command, const std::string& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const std::string cmd = "exec " + command + " >" + log + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// The exit code, or -1 (after killing it) if it runs longer than `seconds`.
int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(20ms);
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t line_count(const std::string& path) {
  const auto text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

std::string rank_env(int rank, int world, int port) {
  return fmt::format("env RANK={} WORLD_SIZE={} MASTER_ADDR=127.0.0.1 MASTER_PORT={} ", rank, world, port);
}

TEST(DataParallelCli, TwoProcessesTrainLikeOne) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 8);
  const std::string args = std::string(SIMCLR_CLI_PATH) + " pretrain --data " + data.str() +
                           " --dataset mnist --width 4 --batch-size 8 --steps 3 --precision fp32 --threads 1 "
                           "--data.workers 1 --out ";
  ASSERT_EQ(wait_exit(spawn(args + dir / "one", dir / "one.log"), 120), 0) << read_file(dir / "one.log");
  const int port = free_port();
  const pid_t r0 = spawn(rank_env(0, 2, port) + args + dir / "two", dir / "r0.log");
  const pid_t r1 = spawn(rank_env(1, 2, port) + args + dir / "two", dir / "r1.log");
  EXPECT_EQ(wait_exit(r0, 120), 0) << read_file(dir / "r0.log");
  EXPECT_EQ(wait_exit(r1, 120), 0) << read_file(dir / "r1.log");
  EXPECT_NE(read_file(dir / "r0.log").find("data parallel: 2 ranks x 4 images"), std::string::npos);
  // Rank 1 logs only warnings: no progress lines.
  EXPECT_EQ(read_file(dir / "r1.log").find("step 3"), std::string::npos) << read_file(dir / "r1.log");
  std::ifstream a(dir / "one/metrics.jsonl"), b(dir / "two/metrics.jsonl");
  std::string la, lb;
  int steps = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    const double x = nlohmann::json::parse(la)["loss"], y = nlohmann::json::parse(lb)["loss"];
    EXPECT_NEAR(x, y, 1e-5 * x) << "step " << steps;
    ++steps;
  }
  EXPECT_EQ(steps, 3);
}

TEST(DataParallelCli, AKilledRankStopsTheOthersWithItsNameAndTheCheckpointSurvives) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 8);
  for (int victim : {1, 0}) {
    SCOPED_TRACE("killed rank " + std::to_string(victim));
    const std::string out = dir / ("run" + std::to_string(victim));
    const std::string args = std::string(SIMCLR_CLI_PATH) + " pretrain --data " + data.str() +
                             " --dataset mnist --width 4 --batch-size 8 --steps 100000 --precision fp32 --threads 1 "
                             "--data.workers 1 --train.checkpoint_every 2 --distributed.timeout_seconds 4 --out " + out;
    const int port = free_port();
    const pid_t pids[2] = {spawn(rank_env(0, 2, port) + args, dir / "r0.log"),
                           spawn(rank_env(1, 2, port) + args, dir / "r1.log")};
    // Let it train a few steps and write a checkpoint, then kill one rank.
    const auto start = std::chrono::steady_clock::now();
    while (line_count(out + "/metrics.jsonl") < 4 && std::chrono::steady_clock::now() - start < 120s) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_GE(line_count(out + "/metrics.jsonl"), 4u) << read_file(dir / "r0.log");
    ::kill(-pids[victim], SIGKILL);
    ::waitpid(pids[victim], nullptr, 0);
    const auto killed = std::chrono::steady_clock::now();
    const int survivor = 1 - victim;
    const int code = wait_exit(pids[survivor], 4 + 30);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
    const auto log = read_file(dir / ("r" + std::to_string(survivor) + ".log"));
    EXPECT_EQ(code, 1) << log;
    EXPECT_LT(took, 4 + 15) << log;  // the timeout, the diagnosis and a margin
    EXPECT_NE(log.find(victim == 1 ? "rank(s) 1 stopped answering" : "rank 0 stopped answering"), std::string::npos)
        << log;
    EXPECT_NE(log.find("--resume"), std::string::npos) << log;
    // The last checkpoint is intact and loadable.
    serialize::CheckpointReader reader(out);
    EXPECT_GE(reader.state().step, 2);
  }
}

TEST(DataParallelCli, AMissingRankOrABadRankIsNamedAtStart) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 8);
  const std::string args = std::string(SIMCLR_CLI_PATH) + " pretrain --data " + data.str() +
                           " --dataset mnist --width 4 --batch-size 8 --steps 2 --threads 1 "
                           "--distributed.timeout_seconds 3 --out " + dir / "run";
  const int port = free_port();
  EXPECT_EQ(wait_exit(spawn(rank_env(0, 2, port) + args, dir / "alone.log"), 30), 1);
  EXPECT_NE(read_file(dir / "alone.log").find("rank(s) 1 of 2 did not join"), std::string::npos)
      << read_file(dir / "alone.log");
  EXPECT_EQ(wait_exit(spawn(rank_env(5, 2, port) + args, dir / "bad.log"), 30), 1);
  EXPECT_NE(read_file(dir / "bad.log").find("rank 5 is not below the world size 2"), std::string::npos)
      << read_file(dir / "bad.log");
  // Rank 1 with nobody at MASTER_PORT: it names the store it could not reach.
  EXPECT_EQ(wait_exit(spawn(rank_env(1, 2, port) + args, dir / "nomaster.log"), 30), 1);
  EXPECT_NE(read_file(dir / "nomaster.log").find("could not reach the rendezvous store"), std::string::npos)
      << read_file(dir / "nomaster.log");
  const int odd = free_port();
  const std::string odd_batch = std::string(SIMCLR_CLI_PATH) + " pretrain --data " + data.str() +
                                " --dataset mnist --width 4 --batch-size 9 --steps 2 --threads 1 --out " + dir / "odd";
  const pid_t a = spawn(rank_env(0, 2, odd) + odd_batch, dir / "odd0.log");
  const pid_t b = spawn(rank_env(1, 2, odd) + odd_batch, dir / "odd1.log");
  EXPECT_EQ(wait_exit(a, 60), 1);
  EXPECT_EQ(wait_exit(b, 60), 1);
  EXPECT_NE(read_file(dir / "odd0.log").find("multiple of the number of ranks"), std::string::npos)
      << read_file(dir / "odd0.log");
}

// What srun gives each task (this machine has no Slurm daemons in CI): rank
// 0's host from the node list, the port from the job id.
TEST(DataParallelCli, SlurmVariablesLaunchTwoRanks) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 8);
  // Slurm's port is 20000 + job id mod 20000: find a free one in that range.
  int port = 0;
  for (int candidate = 20000 + ::getpid() % 20000; port == 0; candidate = 20000 + (candidate - 19999) % 20000) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(candidate));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) port = candidate;
    ::close(fd);
  }
  const std::string args = std::string(SIMCLR_CLI_PATH) + " pretrain --data " + data.str() +
                           " --dataset mnist --width 4 --batch-size 8 --steps 3 --precision fp32 --out " + dir / "run";
  auto slurm = [&](int task) {
    return fmt::format("env SLURM_PROCID={} SLURM_NTASKS=2 SLURM_LOCALID={} SLURM_NODEID=0 "
                       "SLURM_STEP_TASKS_PER_NODE=2 SLURM_STEP_NODELIST=localhost SLURM_JOB_ID={} ",
                       task, task, port - 20000);
  };
  const pid_t r0 = spawn(slurm(0) + args, dir / "r0.log"), r1 = spawn(slurm(1) + args, dir / "r1.log");
  EXPECT_EQ(wait_exit(r0, 120), 0) << read_file(dir / "r0.log");
  EXPECT_EQ(wait_exit(r1, 120), 0) << read_file(dir / "r1.log");
  EXPECT_NE(read_file(dir / "r0.log").find(fmt::format("rendezvous localhost:{} from Slurm", port)), std::string::npos)
      << read_file(dir / "r0.log");
  EXPECT_EQ(line_count(dir / "run/metrics.jsonl"), 3u);
}

// The launch recipe of the README, through Debian's torchrun. Its 1.13
// parses the default --redirects/--tee value "0" into None under Python 3.11
// (Std is an IntFlag, whose zero member 3.11 no longer iterates) and then
// crashes; a mapping for a local rank that does not exist sidesteps that.
TEST(DataParallelCli, TorchrunLaunchesTwoRanks) {
  if (!std::filesystem::exists("/usr/bin/torchrun")) GTEST_SKIP() << "torchrun (python3-torch) is not installed";
  // Debian 13's torch 2.6 is built without libuv, yet its TCPStore asks for
  // libuv by default (since 2.4), so torchrun cannot host its own store there
  // and fails before starting any rank. simclr's rendezvous is unaffected
  // (core/torch_compat.h); the other launch tests cover it.
  if (std::system("/usr/bin/python3 -c \"import torch.distributed as d; d.TCPStore('127.0.0.1', 0, 1, True)\" "
                  ">/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "this torchrun cannot host a TCPStore (torch built without libuv, which its TCPStore asks for by "
                    "default): a bug of the torch package, not of simclr";
  }
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 8);
  const std::string cmd = fmt::format(
      "/usr/bin/torchrun --nproc_per_node=2 --master_port={} --redirects 9:1 --tee 9:1 --no_python {} pretrain --data {} --dataset mnist "
      "--width 4 --batch-size 8 --steps 3 --precision fp32 --out {} --json",
      free_port(), SIMCLR_CLI_PATH, data.str(), dir / "run");
  ASSERT_EQ(wait_exit(spawn(cmd, dir / "torchrun.log"), 180), 0) << read_file(dir / "torchrun.log");
  EXPECT_EQ(line_count(dir / "run/metrics.jsonl"), 3u);
  const auto log = read_file(dir / "torchrun.log");
  EXPECT_NE(log.find("\"ranks\":2"), std::string::npos) << log;
}

}  // namespace
}  // namespace simclr::distributed

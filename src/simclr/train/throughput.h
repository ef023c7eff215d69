// What `simclr bench` measures: the machine's matrix-product peak, and how
// much arithmetic a training step needs, so that a step's speed can be given
// as a fraction of what the machine could do at best.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "simclr/config/config.h"
#include "simclr/core/precision.h"
#include "simclr/distributed/communicator.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/micro_batch.h"

namespace simclr::train {

struct GemmPeak {
  double gflops = 0;  // best over the sizes tried
  int64_t size = 0;   // the n of the n x n x n product that reached it
};

// Throughput of square matrix products (torch::mm, so the library LibTorch
// uses: OpenBLAS for fp32, oneDNN for bf16 on CPU) at n = 1024, 2048, 4096,
// with the current intra-op threads; each size is timed for about
// `seconds_per_size` after one untimed product.
GemmPeak measure_gemm_peak(torch::ScalarType dtype, const torch::Device& device = torch::kCPU,
                           double seconds_per_size = 0.5);

// FLOPs of one training step per view pair: the forward pass (encoder
// convolutions and head layers, models' forward_flops) three times (forward,
// gradient of the input, gradient of the weights), for both views. The
// NT-Xent loss is not included (batch-dependent and small; measured apart).
double training_flops_per_pair(const models::SimclrModelImpl& model, int64_t side);

// Pairs per second of a training step's forward and backward on `model`
// (SimCLR views of random images, `batch` pairs of channels x side x side,
// in `precision` and the memory format asked for), one untimed step then
// `timed` ones: what a run expects before its first real step. Leaves the
// model as it was: no optimizer step, gradients cleared, batch-norm
// statistics restored. The loss needs its temperature set; `micro` times
// the step in micro-batches as training will run it.
double time_step_pairs_per_s(models::SimclrModel& model, const loss::LossOptions& loss, int64_t batch,
                             int64_t channels, int64_t side, Precision precision, const torch::Device& device,
                             bool channels_last, const MicroBatching& micro = {}, int timed = 2);

// Peak resident memory of this process so far, in MiB.
double peak_rss_mib();

struct TrainingBenchOptions {
  int64_t warmup_steps = 2;  // untimed: allocator and oneDNN primitive caches warm up
  int64_t timed_steps = 5;
  bool gemm = true;          // measure the GEMM peaks (about 4 s)
};

struct TrainingBench {
  std::string precision, device;
  int torch_threads = 0, loader_workers = 0, cores = 0;
  int64_t batch_size = 0, side = 0;
  GemmPeak fp32, bf16;                  // bf16 only on CPUs that have it
  double flops_per_pair = 0;            // training_flops_per_pair
  double limit_pairs_per_s = 0;         // the run's precision's peak / flops_per_pair
  std::vector<double> step_seconds;     // the timed steps
  double pairs_per_s = 0;               // batch / median timed step
  double fraction_of_limit = 0;
  double loss_seconds = 0;              // NT-Xent forward + backward at this batch (median of 5)
  double data_wait_fraction = 0;
  double peak_rss_mib = 0;               // this process
  // On CUDA: the GPU, its memory, and the most LibTorch's caching allocator
  // held for tensors at once during the run (torch.cuda.max_memory_allocated).
  std::string cuda_device_name;
  double cuda_memory_mib = 0, cuda_peak_allocated_mib = 0;
  // Data-parallel runs (rank 0 reports): ranks, the peak memory of all of
  // them, and what one rank exchanged per step (see distributed::Traffic).
  int ranks = 1;
  double peak_rss_mib_all_ranks = 0;
  double payload_bytes_per_step = 0, sent_bytes_per_step = 0;
};

// Pretrains for warmup + timed steps of `config` (real data, real loader,
// the same loop as `simclr pretrain`) in a temporary run directory that is
// removed afterwards, and puts the speed beside the machine's limit.
// With a communicator it is one rank of a data-parallel run (every rank
// calls it); the GEMM peak is then not measured, since the ranks would
// compete for the cores.
TrainingBench benchmark_training(config::Config config, const TrainingBenchOptions& options,
                                 std::shared_ptr<distributed::Communicator> comm = nullptr);

}  // namespace simclr::train

// One SimCLR optimisation step, split where the training loop needs to look
// at the loss before committing to it (a non-finite loss stops the run with
// the last checkpoint intact). Shared by `simclr pretrain`, `simclr bench`
// and the step benchmarks, so that all of them time the same work.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "simclr/distributed/communicator.h"
#include "simclr/distributed/gradient_sync.h"
#include "simclr/loss/loss_options.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/models/simclr_model.h"
#include "simclr/optim/lars.h"
#include "simclr/core/precision.h"
#include "simclr/train/micro_batch.h"

namespace simclr::train {

// The data-parallel side of a step. Default: a single process.
struct Parallel {
  distributed::Communicator* comm = nullptr;
  bool global_negatives = true;                    // NT-Xent against every rank's projections
  distributed::GradientAverager* gradients = nullptr;  // averages .grad over the ranks
};

// Forward pass of both views, stacked as [view1; view2] (2n images, already
// on the model's device and in its memory format), and the NT-Xent loss
// between z[0:n] and z[n:2n], under autocast when `precision` asks for it.
// With global negatives the loss is this rank's anchors against all ranks'
// projections: its mean over the ranks is the loss of the global batch.
loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, double temperature,
                                Precision precision, const torch::Device& device, const Parallel& parallel = {});

// The same with any of the losses of loss/contrastive_loss.h (the
// ablations; data-parallel runs support NT-Xent only), optionally in
// micro-batches (train/micro_batch.h: the same loss of the whole batch,
// whose backward then recomputes one micro-batch at a time), and optionally
// with extra negatives from a memory (train/negative_memory.h; NT-Xent only).
loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, const loss::LossOptions& loss,
                                Precision precision, const torch::Device& device, const Parallel& parallel = {},
                                const MicroBatching& micro = {}, const torch::Tensor& negatives = {});

// The loss of a batch's projections z = [z of view 1; z of view 2] (2n
// rows): `loss`, against every rank's projections when `parallel` has
// global negatives (NT-Xent only), and against `negatives` if given.
loss::NtXentOutput projections_loss(const torch::Tensor& z, const loss::LossOptions& loss,
                                    const Parallel& parallel = {}, const torch::Tensor& negatives = {});

// Backward of `loss` and the optimizer step, through the loss scaler (the
// identity except for fp16). False when the scaler found overflowed
// gradients and skipped the step.
bool backward_and_step(const torch::Tensor& loss, optim::Lars& optimizer, LossScaler& scaler,
                       const std::vector<torch::Tensor>& parameters, const Parallel& parallel = {});

}  // namespace simclr::train

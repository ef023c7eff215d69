// One SimCLR optimisation step, split where the training loop needs to look
// at the loss before committing to it (a non-finite loss stops the run with
// the last checkpoint intact). Shared by `simclr pretrain`, `simclr bench`
// and the step benchmarks, so that all of them time the same work.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "simclr/loss/nt_xent.h"
#include "simclr/models/simclr_model.h"
#include "simclr/optim/lars.h"
#include "simclr/train/precision.h"

namespace simclr::train {

// Forward pass of both views, stacked as [view1; view2] (2n images, already
// on the model's device and in its memory format), and the NT-Xent loss
// between z[0:n] and z[n:2n], under autocast when `precision` asks for it.
loss::NtXentOutput forward_loss(models::SimclrModel& model, const torch::Tensor& views, double temperature,
                                Precision precision, const torch::Device& device);

// Backward of `loss` and the optimizer step, through the loss scaler (the
// identity except for fp16). False when the scaler found overflowed
// gradients and skipped the step.
bool backward_and_step(const torch::Tensor& loss, optim::Lars& optimizer, LossScaler& scaler,
                       const std::vector<torch::Tensor>& parameters);

}  // namespace simclr::train

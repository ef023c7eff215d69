// Batch norm whose statistics come from the global batch: the mean and
// variance of every rank's activations together (the paper's "global BN",
// section 2.1: with per-device statistics the model can cheat the contrastive
// task by telling its own device's samples apart). Written with plain tensor
// operations around differentiable all-reduces, so autograd derives the
// backward, including the terms that flow between ranks.
#pragma once
#include <torch/torch.h>

#include "simclr/distributed/communicator.h"

namespace simclr::distributed {

struct BatchNormState {
  torch::Tensor weight, bias;                                // affine parameters (may be undefined)
  torch::Tensor running_mean, running_var, num_batches_tracked;  // updated in place (may be undefined)
  double momentum = 0.1;  // < 0: cumulative average, as PyTorch's momentum=None
  double eps = 1e-5;
};

// Training-mode batch norm of x ([N, C] or [N, C, ...]) over dims 0 and 2...
// of all ranks' x. Every rank must hold the same number of rows. Computed in
// fp32 (double stays double) and returned in x's dtype and memory format.
torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNormState& bn, Communicator& comm);

}  // namespace simclr::distributed

// Batch norm whose statistics come from the global batch: the mean and
// variance of every rank's activations together (the paper's "global BN",
// section 2.1: with per-device statistics the model can cheat the contrastive
// task by telling its own device's samples apart).
//
// Two implementations of the same function. sync_batch_norm, used in
// training, is a custom autograd function built on LibTorch's fused CPU/CUDA
// batch-norm kernels (bf16 and channels-last included): one all-reduce of
// the per-channel statistics forward, one of two per-channel gradient sums
// backward, as PyTorch's SyncBatchNorm. sync_batch_norm_reference writes the
// same thing with plain tensor operations around differentiable all-reduces,
// so autograd derives its backward: it is the check for the fast one, and
// costs several more passes over the activations (measured: 2 ranks ran at
// 0.72x of one process with it, on Fashion-MNIST ResNet-18 w32).
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
// of all ranks' x, and the running statistics' update. Every rank must hold
// the same number of rows; weight and bias must be defined. Statistics are
// accumulated in fp32 or better; the output has x's dtype and memory format.
torch::Tensor sync_batch_norm(const torch::Tensor& x, BatchNormState& bn, Communicator& comm);
torch::Tensor sync_batch_norm_reference(const torch::Tensor& x, BatchNormState& bn, Communicator& comm);

}  // namespace simclr::distributed

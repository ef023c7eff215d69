// Collectives that autograd can differentiate through, for the two places
// where a rank's loss depends on other ranks' activations: the global
// negatives of NT-Xent and the statistics of global batch norm.
//
// The convention, as in PyTorch DDP: the global loss is the mean of the
// ranks' local losses, L = (1/W) sum_k L_k, each rank back-propagates its own
// L_k, and the gradient all-reduce averages the ranks' parameter gradients.
// For that average to be dL/dtheta, the backward of every collective must
// send each rank the gradient of *all* ranks' losses with respect to its own
// input: the sum over k of dL_k/dx_r. A gather whose backward just keeps the
// local slice of the incoming gradient (dL_r/dx_r) drops the other ranks'
// terms: the mistake this file exists to avoid.
#pragma once
#include <torch/torch.h>

#include "simclr/distributed/communicator.h"

namespace simclr::distributed {

// y = sum over ranks of x (same on every rank). Backward: dx_r = sum_k dy_k.
torch::Tensor all_reduce_sum(const torch::Tensor& x, Communicator& comm);

// y = [x_0; x_1; ...; x_{W-1}] (rows of every rank, in rank order).
// Backward: dx_r = rows r of (sum_k dy_k).
torch::Tensor gather_rows(const torch::Tensor& x, Communicator& comm);

}  // namespace simclr::distributed

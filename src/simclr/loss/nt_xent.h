// NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR
// (paper eq. 1). For N pairs (z1[i], z2[i]) it builds the 2N x 2N cosine
// similarity matrix divided by tau, removes self-similarity, and takes the
// cross-entropy of each of the 2N anchors against its partner view, averaged
// over all 2N anchors. N comes from the tensors, so a short last batch is
// handled. Computed in fp32 with log-softmax (log-sum-exp), so it neither
// overflows under bf16/fp16 autocast nor at small tau.
#pragma once
#include <torch/torch.h>

namespace simclr::loss {

struct NtXentOutput {
  torch::Tensor loss;  // scalar, fp32
  torch::Tensor top1;  // scalar: fraction of anchors whose partner is the most similar view
};

NtXentOutput nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

}  // namespace simclr::loss

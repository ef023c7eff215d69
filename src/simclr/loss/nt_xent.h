// NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR
// (paper eq. 1). For N pairs (z1[i], z2[i]) it builds the 2N x 2N cosine
// similarity matrix divided by tau, removes self-similarity, and takes the
// cross-entropy of each of the 2N anchors against its partner view, averaged
// over all 2N anchors. N comes from the tensors, so a short last batch is
// handled. Computed in fp32 (autocast is switched off inside) with a
// max-shifted log-sum-exp, so it neither overflows nor loses precision under
// bf16/fp16 autocast or at small tau.
#pragma once
#include <torch/torch.h>

namespace simclr::loss {

struct NtXentOutput {
  torch::Tensor loss;  // scalar, fp32
  torch::Tensor top1;  // scalar: fraction of anchors whose partner is the most similar view
};

// The fused implementation used in training: one 2N x 2N buffer, a custom
// backward (see nt_xent.cpp). Its backward may run once per forward.
// normalize = false uses raw dot products (the paper's "no l2 norm" ablation).
// `negatives` ([K, d], optional): extra negatives for every anchor, a memory
// of earlier projections (train/negative_memory.h), already normalised and
// without gradient; the loss is then over 2N - 1 + K candidates per anchor.
NtXentOutput nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature, bool normalize = true,
                     const torch::Tensor& negatives = {});

// The loss of some anchors against a larger set of candidates, for
// data-parallel runs with global negatives: `candidates` are the
// L2-normalised projections of every rank ([W * 2n, d], rank r's rows being
// its [view 1; view 2]) and the anchors are rows [offset, offset + count) =
// this rank's. Returns the mean over these anchors; the mean of it over the
// ranks is the single-process loss of the global batch.
NtXentOutput nt_xent_anchors(const torch::Tensor& candidates, int64_t offset, int64_t count, double temperature,
                             const torch::Tensor& negatives = {});

// z in fp32 (double stays double), each row scaled to unit length.
torch::Tensor normalize_projections(const torch::Tensor& z);

// The same loss written plainly with autograd (mm, cross_entropy): the
// reference the fused path is tested against.
NtXentOutput nt_xent_reference(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

}  // namespace simclr::loss

// Exact large-batch contrastive training in micro-batches: the gradient cache
// (Gao, Zhang, Han and Callan 2021, "Scaling deep contrastive learning batch
// size under memory limited setup").
//
// A contrastive loss couples every image of the batch to every other through
// its negatives, so gradient accumulation (summing the gradients of small
// batches) trains a different, weaker loss: each small batch has only its own
// negatives. The gradient cache keeps the loss of the whole batch and bounds
// memory by that of one micro-batch:
//   1. every micro-batch goes through the model without autograd; only its
//      projections z are kept ([2N, d] for the whole batch);
//   2. the loss of the whole batch is computed on those projections, and its
//      backward gives dL/dz for every row (global negatives included: the
//      projections of every rank enter the loss exactly as in one pass);
//   3. every micro-batch goes through the model again, now with autograd, and
//      back-propagates its rows of dL/dz; the parameters' gradients add up
//      to dL/dtheta of the whole batch.
// Step 3 runs inside the loss's backward (a hook on the projections), so the
// training loop, the loss scaler and the data-parallel gradient averager see
// an ordinary loss and an ordinary backward. The price is a second forward
// pass per micro-batch (about a third of a step's arithmetic).
//
// Batch norm normalises each micro-batch with its own statistics, as each
// device of a multi-device run does without global BN (with global BN, a
// micro-batch's statistics are those of the same micro-batch on every rank).
// So that a micro-batch never holds both views of an image, whose shared
// statistics would let the model find its positive by them (the leak global
// BN exists to prevent), each micro-batch takes the rows of one view only,
// unless train.micro_batch_mix_views asks for both views of the same images.
// The running statistics are updated once per micro-batch (by step 1; step
// 3 restores them after recomputing).
//
// The model's forward must be deterministic (no dropout with a non-zero
// rate): step 3 must recompute exactly the activations of step 1. And the
// gradient must be taken with backward(), which reaches the projections'
// accumulator and so the hook; torch::autograd::grad() would stop short of
// it and leave the parameters without gradient.
#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

namespace simclr::train {

// train.micro_batch_size and train.micro_batch_mix_views.
struct MicroBatching {
  int64_t pairs = 0;       // at most this many pairs' worth of images (2 x pairs) per pass; 0 = one pass
  bool mix_views = false;  // a pass holds both views of its pairs (their batch-norm statistics meet)
  bool enabled() const { return pairs > 0; }
};

// One forward pass: row ranges [first, first + count) of the stacked views
// [view 1 (n rows); view 2 (n rows)].
struct MicroBatch {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t rows() const;
};

// The passes for `pairs` pairs. The rows are shared out as evenly as the
// size allows (a batch of 10 pairs in micro-batches of 3 pairs with views
// apart: view 1 as 5 + 5 images, then view 2 as 5 + 5), so that no pass is
// left with a single image, which batch norm cannot normalise.
std::vector<MicroBatch> plan_micro_batches(int64_t pairs, const MicroBatching& micro);

// x's rows of `batch` (a view of x when the pass is one range).
torch::Tensor take_rows(const torch::Tensor& x, const MicroBatch& batch);

// The inverse: `rows` (the rows of `batch`, in order) written into `into`.
void put_rows(torch::Tensor& into, const MicroBatch& batch, const torch::Tensor& rows);

// Puts a module's buffers (batch norm's running statistics) back as they
// were at construction when it goes out of scope: for passes that must not
// move them (the recomputation of step 3, a timed step).
class BufferSnapshot {
 public:
  explicit BufferSnapshot(torch::nn::Module& module);
  ~BufferSnapshot();
  BufferSnapshot(const BufferSnapshot&) = delete;
  BufferSnapshot& operator=(const BufferSnapshot&) = delete;

 private:
  std::vector<torch::Tensor> buffers_, saved_;
};

}  // namespace simclr::train

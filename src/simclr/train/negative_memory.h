// A memory of negatives (SimCLRv2, section 2.2, after MoCo): projections of
// earlier batches, made by a momentum copy of encoder and head whose weights
// follow the trained ones as an exponential moving average, used as extra
// negatives of NT-Xent (loss.queue_size of them, model.momentum the EMA's
// decay). It adds negatives without adding memory for activations: the
// keys are computed without autograd, and the memory holds only
// queue_size x d floats.
//
// Per step, in MoCo's order: begin_step() moves the momentum model toward
// the trained one and embeds the step's views (every rank's, gathered, so
// that the memory is the same on every rank); the loss uses negatives(),
// the memory before this step; commit() then puts this step's keys in place
// of the oldest. Until the memory has filled, only the filled part is used.
// The memory and the momentum model are saved in checkpoints, so a resumed
// run continues with the very same negatives.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "simclr/core/precision.h"
#include "simclr/distributed/communicator.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/micro_batch.h"

namespace simclr::train {

class NegativeMemory {
 public:
  // `momentum_model` is built like `online` (same architecture; to() puts
  // it on the device); its weights start as a copy of online's. `dim` is
  // the projections' dimension.
  NegativeMemory(models::SimclrModel momentum_model, const models::SimclrModel& online, int64_t size, int64_t dim,
                 double momentum);

  // theta_m <- m theta_m + (1 - m) theta for every parameter, then the keys
  // of `views` ([view 1; view 2] of this rank, as for the loss), in passes of
  // `micro` when it is on, l2-normalised; with `comm`, every rank's in rank
  // order. Held until commit().
  void begin_step(const models::SimclrModel& online, const torch::Tensor& views, Precision precision,
                  const torch::Device& device, const MicroBatching& micro, distributed::Communicator* comm);
  // [filled, dim], fp32, no gradient; undefined while the memory is empty.
  torch::Tensor negatives() const;
  // This step's keys replace the oldest (the last `size` of them, if more).
  void commit();

  int64_t size() const { return queue_.size(0); }
  int64_t filled() const { return filled_; }
  models::SimclrModel& momentum_model() { return model_; }

  // Moves the momentum model and the memory (after load(), which reads
  // onto the CPU in the saved layout).
  void to(const torch::Device& device, bool channels_last);
  // Rank 0's momentum model, memory and position on every rank (a
  // data-parallel start or resume).
  void broadcast_from_rank0(distributed::Communicator& comm);
  void save(torch::serialize::OutputArchive& archive);
  // Throws simclr::Error naming what does not match (another size or dimension).
  void load(torch::serialize::InputArchive& archive);

 private:
  models::SimclrModel model_;
  double momentum_;
  torch::Tensor queue_;  // [size, dim]
  int64_t next_ = 0;     // the slot the next key goes to
  int64_t filled_ = 0;
  torch::Tensor pending_;
};

}  // namespace simclr::train

#include "simclr/train/negative_memory.h"

#include <cmath>

#include "simclr/core/error.h"
#include "simclr/loss/nt_xent.h"

namespace simclr::train {

NegativeMemory::NegativeMemory(models::SimclrModel momentum_model, const models::SimclrModel& online, int64_t size,
                               int64_t dim, double momentum)
    : model_(std::move(momentum_model)), momentum_(momentum) {
  SIMCLR_CHECK(size >= 1 && dim >= 1, "a memory of negatives needs a size and a dimension, got {} x {}", size, dim);
  SIMCLR_CHECK(momentum >= 0 && momentum < 1, "model.momentum must be in [0, 1), got {}", momentum);
  torch::NoGradGuard no_grad;
  const auto mine = model_->parameters(), theirs = online->parameters();
  SIMCLR_CHECK(mine.size() == theirs.size(), "the momentum model must be built like the trained one");
  for (size_t k = 0; k < mine.size(); ++k) mine[k].copy_(theirs[k]);
  const auto my_buffers = model_->buffers(), their_buffers = online->buffers();
  for (size_t k = 0; k < my_buffers.size(); ++k) my_buffers[k].copy_(their_buffers[k]);
  for (auto& p : mine) p.set_requires_grad(false);
  model_->train();  // batch statistics for the keys, as MoCo's key encoder
  // fp32 as the loss computes (double stays double, for the tests).
  const auto dtype = theirs.front().scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  queue_ = torch::zeros({size, dim}, theirs.front().options().dtype(dtype).requires_grad(false));
}

void NegativeMemory::begin_step(const models::SimclrModel& online, const torch::Tensor& views, Precision precision,
                                const torch::Device& device, const MicroBatching& micro,
                                distributed::Communicator* comm) {
  torch::NoGradGuard no_grad;
  const auto mine = model_->parameters(), theirs = online->parameters();
  for (size_t k = 0; k < mine.size(); ++k) mine[k].mul_(momentum_).add_(theirs[k].detach(), 1 - momentum_);
  const int64_t n = views.size(0) / 2;
  // Without autograd a pass keeps no activations, so both views of a
  // micro-batch may go at once; without micro-batches, the whole batch.
  const auto plan = plan_micro_batches(n, MicroBatching{micro.pairs, true});
  auto keys = torch::empty({2 * n, queue_.size(1)}, queue_.options());
  {
    AutocastGuard autocast(precision, device);
    for (const auto& batch : plan) {
      put_rows(keys, batch, loss::normalize_projections(model_->forward(take_rows(views, batch)).z));
    }
  }
  if (comm) {
    // all_gather gives [rank 0's view 1; its view 2; rank 1's ...]; one
    // process has [every view 1; every view 2]. The same order makes the
    // newest keys the same ones when the memory keeps only part of a step.
    const int64_t world = comm->world_size(), dim = keys.size(1);
    keys = comm->all_gather(keys).view({world, 2, n, dim}).transpose(0, 1).reshape({-1, dim});
  }
  pending_ = keys;
}

torch::Tensor NegativeMemory::negatives() const {
  if (filled_ == 0) return {};
  return filled_ == size() ? queue_ : queue_.narrow(0, 0, filled_);
}

void NegativeMemory::commit() {
  SIMCLR_CHECK(pending_.defined(), "NegativeMemory::commit() without begin_step()");
  torch::NoGradGuard no_grad;
  auto keys = pending_;
  pending_ = torch::Tensor();
  const int64_t size = this->size();
  if (keys.size(0) > size) keys = keys.narrow(0, keys.size(0) - size, size);  // only the newest fit
  int64_t at = 0;
  while (at < keys.size(0)) {  // the ring wraps around at most once per commit
    const int64_t count = std::min(keys.size(0) - at, size - next_);
    queue_.narrow(0, next_, count).copy_(keys.narrow(0, at, count));
    at += count;
    next_ = (next_ + count) % size;
  }
  filled_ = std::min(size, filled_ + keys.size(0));
}

void NegativeMemory::to(const torch::Device& device, bool channels_last) {
  model_->to(device);
  if (channels_last) models::to_channels_last(*model_);
  queue_ = queue_.to(device);
}

void NegativeMemory::broadcast_from_rank0(distributed::Communicator& comm) {
  std::vector<torch::Tensor> tensors = model_->parameters();
  for (const auto& b : model_->buffers()) tensors.push_back(b);
  tensors.push_back(queue_);
  auto position = torch::tensor({next_, filled_}, torch::kLong).to(queue_.device());
  tensors.push_back(position);
  comm.broadcast_(tensors);
  position = position.cpu();
  next_ = position[0].item<int64_t>();
  filled_ = position[1].item<int64_t>();
}

void NegativeMemory::save(torch::serialize::OutputArchive& archive) {
  torch::serialize::OutputArchive model_archive;
  model_->save(model_archive);
  archive.write("momentum_model", model_archive);
  archive.write("queue", queue_);
  archive.write("next", c10::IValue(next_));
  archive.write("filled", c10::IValue(filled_));
  archive.write("momentum", c10::IValue(momentum_));
}

void NegativeMemory::load(torch::serialize::InputArchive& archive) {
  torch::Tensor queue;
  c10::IValue next, filled;
  torch::serialize::InputArchive model_archive;
  archive.read("queue", queue);
  archive.read("next", next);
  archive.read("filled", filled);
  SIMCLR_CHECK(queue.sizes() == queue_.sizes(),
               "the checkpoint's memory of negatives is {} (loss.queue_size x projection dimension), this run's {}; "
               "resume with the same loss.queue_size",
               c10::str(queue.sizes()), c10::str(queue_.sizes()));
  SIMCLR_CHECK(next.toInt() >= 0 && next.toInt() < queue_.size(0) && filled.toInt() >= 0 &&
                   filled.toInt() <= queue_.size(0),
               "the checkpoint's memory of negatives has an impossible position ({} of {}, {} filled)", next.toInt(),
               queue_.size(0), filled.toInt());
  c10::IValue momentum;
  if (archive.try_read("momentum", momentum) && std::abs(momentum.toDouble() - momentum_) > 1e-12) {
    throw Error(fmt::format("the checkpoint's memory of negatives was made with model.momentum {:g}, this run asks "
                            "for {:g}; resume with the same model.momentum",
                            momentum.toDouble(), momentum_));
  }
  try {
    archive.read("momentum_model", model_archive);
    model_->load(model_archive);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("the checkpoint's momentum model does not match the model built from its config: {}",
                            e.what_without_backtrace()));
  }
  for (auto& p : model_->parameters()) p.set_requires_grad(false);
  torch::NoGradGuard no_grad;
  queue_.copy_(queue);
  next_ = next.toInt();
  filled_ = filled.toInt();
}

}  // namespace simclr::train

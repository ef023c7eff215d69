#include "simclr/distributed/gradient_sync.h"

#include <algorithm>

#include "simclr/core/error.h"

namespace simclr::distributed {

GradientAverager::GradientAverager(std::vector<torch::Tensor> parameters, std::shared_ptr<Communicator> comm,
                                   double bucket_mb)
    : parameters_(std::move(parameters)), comm_(std::move(comm)) {
  // As DDP: the first bucket (the last layers, whose gradients come first)
  // is small, so that communication starts early in the backward pass.
  const auto bucket_bytes = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  const int64_t first_bucket_bytes = std::min<int64_t>(bucket_bytes, 1024 * 1024);
  where_.resize(parameters_.size());
  arrived_.assign(parameters_.size(), 0);
  // Reverse order: the last layers' gradients arrive first.
  int64_t bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const auto& p = parameters_[k];
    if (!p.requires_grad()) continue;
    const int64_t cap = buckets_.size() <= 1 ? (buckets_.empty() ? 0 : first_bucket_bytes) : bucket_bytes;
    if (buckets_.empty() || bytes >= cap || p.scalar_type() != buckets_.back().flat.scalar_type()) {
      buckets_.push_back(Bucket{});
      buckets_.back().flat = torch::empty({0}, p.options());
      bytes = 0;
    }
    auto& b = buckets_.back();
    int64_t offset = 0;
    if (!b.offsets.empty()) offset = b.offsets.back() + parameters_[b.params.back()].numel();
    b.params.push_back(k);
    b.offsets.push_back(offset);
    where_[k] = {buckets_.size() - 1, offset};
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  for (auto& b : buckets_) {
    const int64_t n = b.offsets.back() + parameters_[b.params.back()].numel();
    b.flat = torch::zeros({n}, b.flat.options());
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad()) continue;
    // A hook that returns nothing leaves the gradient itself unchanged.
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& grad) { on_gradient(k, grad); }));
  }
}

GradientAverager::~GradientAverager() {
  size_t h = 0;
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (parameters_[k].requires_grad()) parameters_[k].remove_hook(hooks_[h++]);
  }
}

void GradientAverager::begin() {
  for (auto& b : buckets_) {
    b.ready = 0;
    b.work.reset();
  }
  std::fill(arrived_.begin(), arrived_.end(), 0);
  passes_ = 1;
  next_launch_ = 0;
  overlapped_ = 0;
  armed_ = true;
}

void GradientAverager::expect_passes(int64_t passes) {
  TORCH_INTERNAL_ASSERT(armed_ && passes >= 1, "expect_passes(", passes, ") outside a step");
  TORCH_INTERNAL_ASSERT(std::all_of(arrived_.begin(), arrived_.end(), [](int64_t a) { return a == 0; }),
                        "expect_passes() after the step's first gradient");
  passes_ = passes;
}

void GradientAverager::on_gradient(size_t param, const torch::Tensor& grad) {
  if (!armed_) return;  // a backward outside a training step (none today) is left alone
  TORCH_INTERNAL_ASSERT(arrived_[param] < passes_, "a parameter's gradient hook fired more than ", passes_,
                        " times in one step");
  const auto [bucket, offset] = where_[param];
  auto& b = buckets_[bucket];
  torch::NoGradGuard no_grad;
  // view(sizes) reads the flat slice in logical (NCHW) order and copy_
  // follows grad's own strides, so channels-last gradients round-trip.
  auto slot = b.flat.narrow(0, offset, grad.numel()).view(grad.sizes());
  if (arrived_[param] == 0) slot.copy_(grad);
  else slot.add_(grad);
  if (++arrived_[param] < passes_) return;
  if (++b.ready == b.params.size()) {
    launch_ready();
    overlapped_ = static_cast<int64_t>(next_launch_);
  }
}

void GradientAverager::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].ready == buckets_[next_launch_].params.size()) {
    auto& b = buckets_[next_launch_++];
    b.flat.div_(comm_->world_size());
    b.work = comm_->all_reduce_async(b.flat);
  }
}

void GradientAverager::finish() {
  TORCH_INTERNAL_ASSERT(armed_, "GradientAverager::finish() without begin()");
  armed_ = false;
  torch::NoGradGuard no_grad;
  // A parameter that took no part in this loss still gets averaged (as zero
  // here), so that every rank issues the same collectives.
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (!parameters_[k].requires_grad() || arrived_[k] == passes_) continue;
    const auto [bucket, offset] = where_[k];
    auto& b = buckets_[bucket];
    // A parameter used by only some passes keeps the sum of those.
    if (arrived_[k] == 0) b.flat.narrow(0, offset, parameters_[k].numel()).zero_();
    ++b.ready;
  }
  launch_ready();
  TORCH_INTERNAL_ASSERT(next_launch_ == buckets_.size());
  for (auto& b : buckets_) {
    comm_->wait(b.work);
    for (size_t i = 0; i < b.params.size(); ++i) {
      auto& p = parameters_[b.params[i]];
      const auto averaged = b.flat.narrow(0, b.offsets[i], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(averaged);
      else p.mutable_grad() = averaged.clone().contiguous(p.suggest_memory_format());
    }
  }
}

}  // namespace simclr::distributed

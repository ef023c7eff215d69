#include "simclr/train/micro_batch.h"

#include "simclr/core/error.h"

namespace simclr::train {
namespace {

// [first, first + count) cut into ceil(count / cap) ranges whose sizes differ by at most one.
std::vector<std::pair<int64_t, int64_t>> even_split(int64_t first, int64_t count, int64_t cap) {
  const int64_t parts = (count + cap - 1) / cap;
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t at = first;
  for (int64_t k = 0; k < parts; ++k) {
    const int64_t size = count / parts + (k < count % parts ? 1 : 0);
    out.emplace_back(at, size);
    at += size;
  }
  return out;
}

}  // namespace

int64_t MicroBatch::rows() const {
  int64_t n = 0;
  for (const auto& r : ranges) n += r.second;
  return n;
}

std::vector<MicroBatch> plan_micro_batches(int64_t pairs, const MicroBatching& micro) {
  SIMCLR_CHECK(pairs >= 1, "a step needs at least one pair of views, got {}", pairs);
  std::vector<MicroBatch> plan;
  if (!micro.enabled()) {
    plan.push_back(MicroBatch{{{0, 2 * pairs}}});
    return plan;
  }
  SIMCLR_CHECK(micro.pairs >= 2, "train.micro_batch_size must be 0 (off) or at least 2, got {}", micro.pairs);
  if (micro.mix_views) {
    for (const auto& [first, count] : even_split(0, pairs, micro.pairs)) {
      plan.push_back(MicroBatch{{{first, count}, {pairs + first, count}}});
    }
    return plan;
  }
  // A pass of one view holds as many images as a pass of both: 2 x micro.pairs.
  for (const int64_t view_first : {int64_t{0}, pairs}) {
    for (const auto& range : even_split(view_first, pairs, 2 * micro.pairs)) plan.push_back(MicroBatch{{range}});
  }
  return plan;
}

torch::Tensor take_rows(const torch::Tensor& x, const MicroBatch& batch) {
  if (batch.ranges.size() == 1) return x.narrow(0, batch.ranges[0].first, batch.ranges[0].second);
  std::vector<torch::Tensor> parts;
  for (const auto& [first, count] : batch.ranges) parts.push_back(x.narrow(0, first, count));
  // cat keeps channels-last only when asked.
  return torch::cat(parts, 0).contiguous(x.suggest_memory_format());
}

void put_rows(torch::Tensor& into, const MicroBatch& batch, const torch::Tensor& rows) {
  int64_t at = 0;
  for (const auto& [first, count] : batch.ranges) {
    into.narrow(0, first, count).copy_(rows.narrow(0, at, count));
    at += count;
  }
}

BufferSnapshot::BufferSnapshot(torch::nn::Module& module) : buffers_(module.buffers()) {
  torch::NoGradGuard no_grad;
  for (const auto& b : buffers_) saved_.push_back(b.clone());
}

BufferSnapshot::~BufferSnapshot() {
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < buffers_.size(); ++k) buffers_[k].copy_(saved_[k]);
}

}  // namespace simclr::train

#include "simclr/data/subset.h"

#include <algorithm>
#include <cmath>

#include "simclr/core/error.h"
#include "simclr/core/rng.h"

namespace simclr::data {
namespace {
constexpr uint64_t kSubsetStream = 0x5355425345ull;
}

std::vector<int64_t> balanced_subset(const Dataset& dataset, double fraction, uint64_t seed) {
  SIMCLR_CHECK(fraction > 0 && fraction <= 1, "label fraction {} must be in (0, 1]", fraction);
  const int64_t classes = dataset.num_classes();
  SIMCLR_CHECK(classes > 0, "the dataset has no labels; fine-tuning needs a labeled split");
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
  for (size_t i = 0; i < dataset.size(); ++i) {
    const int64_t y = dataset.label(i);
    if (y >= 0 && y < classes) by_class[static_cast<size_t>(y)].push_back(static_cast<int64_t>(i));
  }
  std::vector<int64_t> out;
  for (int64_t c = 0; c < classes; ++c) {
    auto& members = by_class[static_cast<size_t>(c)];
    if (members.empty()) continue;
    Rng rng(derive_seed(seed, kSubsetStream, static_cast<uint64_t>(c)));
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.below(i)]);
    const auto take = std::clamp<size_t>(static_cast<size_t>(std::lround(fraction * members.size())), 1,
                                         members.size());
    out.insert(out.end(), members.begin(), members.begin() + static_cast<std::ptrdiff_t>(take));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> evenly_spaced(size_t n, size_t count) {
  const size_t m = std::min(n, count);
  std::vector<int64_t> out(m);
  for (size_t i = 0; i < m; ++i) out[i] = static_cast<int64_t>(i * n / m);
  return out;
}

SubsetDataset::SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  for (const int64_t i : indices_) {
    SIMCLR_CHECK(i >= 0 && static_cast<size_t>(i) < base_->size(), "subset index {} outside the dataset ({} images)",
                 i, base_->size());
  }
}

std::string SubsetDataset::describe() const {
  return fmt::format("{} of: {}", size(), base_->describe());
}

}  // namespace simclr::data

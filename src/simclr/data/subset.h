// Labeled subsets for semi-supervised fine-tuning (paper section 6: 1% and
// 10% of ImageNet's labels, class-balanced).
#pragma once
#include <memory>
#include <vector>

#include "simclr/data/dataset.h"

namespace simclr::data {

// round(fraction x n_c) images of every class c (at least 1), drawn from the
// seed; sorted. The same (dataset, fraction, seed) always gives the same
// subset, and a larger fraction need not contain a smaller one.
std::vector<int64_t> balanced_subset(const Dataset& dataset, double fraction, uint64_t seed);

// min(count, n) indices spread evenly over 0..n-1 (every class of a sorted
// dataset is represented), for monitors that evaluate on part of a split.
std::vector<int64_t> evenly_spaced(size_t n, size_t count);

// A view of some samples of another dataset, in the given order.
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  size_t size() const override { return indices_.size(); }
  Sample get(size_t index) const override { return base_->get(at(index)); }
  int64_t label(size_t index) const override { return base_->label(at(index)); }
  int64_t num_classes() const override { return base_->num_classes(); }
  int channels() const override { return base_->channels(); }
  int image_side() const override { return base_->image_side(); }
  std::string describe() const override;
  std::string source(size_t index) const override { return base_->source(at(index)); }

 private:
  size_t at(size_t index) const { return static_cast<size_t>(indices_.at(index)); }
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

}  // namespace simclr::data

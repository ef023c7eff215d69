// Weighted cosine k-nearest-neighbour classification (Wu et al. 2018, the
// kNN monitor of most SimCLR re-implementations): features are l2-normalised;
// each query takes the k most similar bank samples, each voting for its label
// with weight exp(similarity / T); the classes are ranked by total vote.
#pragma once
#include <torch/torch.h>

#include "simclr/eval/features.h"

namespace simclr::eval {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.1;
  int64_t chunk = 1024;  // queries per similarity block: memory chunk x bank
};

struct KnnResult {
  double top1 = 0, top5 = 0;  // in [0, 1]
  torch::Tensor scores;       // [queries, classes] total votes
};

KnnResult knn_classify(const Features& bank, const Features& queries, int64_t num_classes, const KnnOptions& options);

}  // namespace simclr::eval

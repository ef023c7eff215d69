#include "simclr/eval/knn.h"

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"

namespace simclr::eval {

KnnResult knn_classify(const Features& bank, const Features& queries, int64_t num_classes, const KnnOptions& options) {
  SIMCLR_CHECK(bank.x.size(0) > 0 && queries.x.size(0) > 0, "kNN needs a non-empty bank and query set");
  SIMCLR_CHECK((bank.y >= 0).all().item<bool>(), "kNN needs a labeled bank; this split has unlabeled images");
  torch::InferenceMode inference;
  const auto b = torch::nn::functional::normalize(bank.x.to(torch::kFloat),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
  const int64_t k = std::min<int64_t>(options.k, b.size(0));
  const int64_t n = queries.x.size(0);
  auto scores = torch::zeros({n, num_classes});
  for (int64_t begin = 0; begin < n; begin += options.chunk) {
    check_interrupt();
    const int64_t len = std::min(options.chunk, n - begin);
    const auto q = torch::nn::functional::normalize(queries.x.narrow(0, begin, len).to(torch::kFloat),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
    const auto [sim, idx] = torch::mm(q, b.t()).topk(k, 1);
    const auto weights = (sim / options.temperature).exp();
    scores.narrow(0, begin, len).scatter_add_(1, bank.y.index({idx}), weights);
  }
  KnnResult r;
  const int64_t top = std::min<int64_t>(5, num_classes);
  const auto ranked = std::get<1>(scores.topk(top, 1));
  const auto hit = ranked.eq(queries.y.unsqueeze(1));
  r.top1 = hit.select(1, 0).to(torch::kDouble).mean().item<double>();
  r.top5 = hit.any(1).to(torch::kDouble).mean().item<double>();
  r.scores = scores;
  return r;
}

}  // namespace simclr::eval

#include "simclr/eval/knn.h"

#include "simclr/data/subset.h"
#include "simclr/data/idx_dataset.h"
#include "test_util.h"

namespace simclr::eval {
namespace {

// The definition, one query at a time in double precision.
std::vector<double> brute_force_scores(const Features& bank, const torch::Tensor& q, int64_t classes, int64_t k,
                                       double t) {
  const auto b = bank.x.to(torch::kDouble), x = q.to(torch::kDouble);
  std::vector<std::pair<double, int64_t>> sims;
  for (int64_t i = 0; i < b.size(0); ++i) {
    const double cos = (b[i] * x).sum().item<double>() / (b[i].norm().item<double>() * x.norm().item<double>());
    sims.emplace_back(cos, bank.y[i].item<int64_t>());
  }
  std::sort(sims.begin(), sims.end(), [](auto& a, auto& c) { return a.first > c.first; });
  std::vector<double> scores(static_cast<size_t>(classes), 0.0);
  for (int64_t j = 0; j < k; ++j) scores[static_cast<size_t>(sims[j].second)] += std::exp(sims[j].first / t);
  return scores;
}

TEST(Knn, MatchesTheBruteForceDefinition) {
  torch::manual_seed(0);
  const int64_t classes = 7;
  Features bank{torch::randn({300, 16}), torch::randint(0, classes, {300}, torch::kLong)};
  Features queries{torch::randn({50, 16}), torch::randint(0, classes, {50}, torch::kLong)};
  for (int64_t k : {1, 10, 200}) {
    KnnOptions o;
    o.k = k;
    o.temperature = 0.1;
    o.chunk = 16;  // several chunks, one short
    const auto r = knn_classify(bank, queries, classes, o);
    int64_t top1 = 0, top5 = 0, top5_ties = 0;
    for (int64_t i = 0; i < 50; ++i) {
      const auto ref = brute_force_scores(bank, queries.x[i], classes, k, 0.1);
      for (int64_t c = 0; c < classes; ++c) {
        EXPECT_NEAR(r.scores[i][c].item<double>(), ref[c], 1e-4 * std::max(1.0, ref[c])) << "k " << k;
      }
      std::vector<int64_t> order(classes);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ref[a] > ref[b]; });
      const int64_t y = queries.y[i].item<int64_t>();
      top1 += order[0] == y;
      // Classes without votes tie at 0: whether such a y is in the top 5 is
      // up to tie-breaking, so those queries only bound the expected rate.
      const auto above = std::count_if(ref.begin(), ref.end(), [&](double s) { return s > ref[y]; });
      const auto equal = std::count(ref.begin(), ref.end(), ref[y]);
      if (above + equal <= 5) ++top5;
      else if (above < 5) ++top5_ties;
    }
    EXPECT_DOUBLE_EQ(r.top1, top1 / 50.0) << "k " << k;
    EXPECT_GE(r.top5, top5 / 50.0 - 1e-12) << "k " << k;
    EXPECT_LE(r.top5, (top5 + top5_ties) / 50.0 + 1e-12) << "k " << k;
    if (k == 200) {
      EXPECT_EQ(top5_ties, 0);  // every class has votes: the rate is exact
    }
  }
}

TEST(Knn, SeparableClustersAreClassifiedPerfectly) {
  // Two directions, each a class: every query sits near its own.
  auto centres = torch::tensor({{1.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f}});
  auto y = torch::arange(40, torch::kLong).remainder(2);
  Features bank{centres.index({y}) + 0.05 * torch::randn({40, 3}), y};
  Features queries{centres.index({y.narrow(0, 0, 10)}) * 3, y.narrow(0, 0, 10)};  // scale must not matter
  const auto r = knn_classify(bank, queries, 2, {});
  EXPECT_EQ(r.top1, 1.0);
  EXPECT_EQ(r.top5, 1.0);  // fewer than 5 classes: top-5 is every class
  Features unlabeled{bank.x, torch::full({40}, -1, torch::kLong)};
  EXPECT_THROW(knn_classify(unlabeled, queries, 2, {}), Error);
}

TEST(BalancedSubset, IsClassBalancedSeededAndWithinTheDataset) {
  testing::TempDir dir;
  testing::write_toy_idx(dir.str(), 200, 10);  // labels alternate 0, 1
  auto ds = data::IdxDataset::open_folder(dir.str(), data::Split::kTrain);
  const auto a = data::balanced_subset(*ds, 0.1, 5), b = data::balanced_subset(*ds, 0.1, 5),
             c = data::balanced_subset(*ds, 0.1, 6);
  ASSERT_EQ(a.size(), 20u);
  EXPECT_EQ(a, b);  // the seed fixes it
  EXPECT_NE(a, c);
  int per_class[2] = {0, 0};
  for (int64_t i : a) ++per_class[ds->label(static_cast<size_t>(i))];
  EXPECT_EQ(per_class[0], 10);
  EXPECT_EQ(per_class[1], 10);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), a.size());
  // A tiny fraction still keeps one image of every class.
  EXPECT_EQ(data::balanced_subset(*ds, 0.001, 1).size(), 2u);
  data::SubsetDataset sub(ds, a);
  EXPECT_EQ(sub.size(), 20u);
  EXPECT_EQ(sub.label(3), ds->label(static_cast<size_t>(a[3])));
  EXPECT_THROW(data::balanced_subset(*ds, 0.0, 1), Error);
}

}  // namespace
}  // namespace simclr::eval

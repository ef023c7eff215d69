// The ablation losses (and DCL, DCLW) against loops over anchors and negatives in double,
// their gradients against finite differences, and the variants' plumbing
// (no head, no l2 normalisation).
#include "simclr/loss/contrastive_loss.h"

#include <cmath>

#include "simclr/models/simclr_model.h"
#include "test_util.h"

namespace simclr::loss {
namespace {

double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

// The per-anchor definitions of contrastive_loss.h, one anchor at a time.
double brute_force(const torch::Tensor& z1, const torch::Tensor& z2, const config::LossConfig& c) {
  auto z = torch::cat({z1, z2}, 0).to(torch::kDouble);
  if (c.normalize) z = z / z.norm(2, 1, true);
  const int64_t n = z1.size(0), m = 2 * n;
  const auto s = torch::mm(z, z.t());
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = (i + n) % m;
    const double pos = s[i][p].item<double>();
    std::vector<double> negs, farther;
    for (int64_t k = 0; k < m; ++k) {
      if (k == i || k == p) continue;
      negs.push_back(s[i][k].item<double>());
      if (negs.back() < pos) farther.push_back(negs.back());
    }
    const auto& used = c.semi_hard && !farther.empty() ? farther : negs;
    double anchor = 0;
    if (c.name == "nt_xent") {
      double denom = std::exp(pos / *c.temperature);
      for (double v : negs) denom += std::exp(v / *c.temperature);
      anchor = -(pos / *c.temperature - std::log(denom));
    } else if (c.name == "nt_logistic") {
      double neg = 0;
      for (double v : used) neg += log_sigmoid(-v / *c.temperature);
      anchor = -log_sigmoid(pos / *c.temperature) - neg / static_cast<double>(used.size());
    } else if (c.name == "dcl" || c.name == "dclw") {
      double denom = 0;  // the negatives alone
      for (double v : negs) denom += std::exp(v / *c.temperature);
      double weight = 1;
      if (c.name == "dclw") {  // 2 - N exp(s+_i / sigma) / sum over the N pairs
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += std::exp(s[j][j + n].item<double>() / c.dcl_sigma);
        weight = 2 - static_cast<double>(n) * std::exp(pos / c.dcl_sigma) / sum;
      }
      anchor = -weight * pos / *c.temperature + std::log(denom);
    } else {
      for (double v : used) anchor += std::max(v - pos + c.margin, 0.0);
      anchor /= static_cast<double>(used.size());
    }
    total += anchor;
  }
  return total / static_cast<double>(m);
}

std::vector<config::LossConfig> variants() {
  std::vector<config::LossConfig> out;
  for (const std::string name : {"nt_xent", "nt_logistic", "margin", "dcl", "dclw"}) {
    for (bool normalize : {true, false}) {
      for (bool semi_hard : {false, true}) {
        if ((name == "nt_xent" || name == "dcl" || name == "dclw") && semi_hard) continue;
        config::LossConfig c;
        c.name = name;
        c.normalize = normalize;
        c.semi_hard = semi_hard;
        c.temperature = 0.7;
        c.margin = 0.4;
        c.dcl_sigma = 0.6;
        out.push_back(c);
      }
    }
  }
  return out;
}

std::string describe(const config::LossConfig& c) {
  return fmt::format("{} normalize={} semi_hard={}", c.name, c.normalize, c.semi_hard);
}

TEST(ContrastiveLoss, EveryVariantMatchesItsDefinition) {
  torch::manual_seed(4);
  const auto z1 = torch::randn({5, 6}, torch::kDouble) * 0.7, z2 = torch::randn({5, 6}, torch::kDouble) * 0.7;
  for (const auto& c : variants()) {
    SCOPED_TRACE(describe(c));
    EXPECT_NEAR(contrastive_loss(z1, z2, c).loss.item<double>(), brute_force(z1, z2, c), 1e-10);
  }
}

TEST(ContrastiveLoss, GradientsMatchFiniteDifferences) {
  torch::manual_seed(6);
  const auto z1 = torch::randn({4, 5}, torch::kDouble) * 0.7, z2 = torch::randn({4, 5}, torch::kDouble) * 0.7;
  for (const auto& c : variants()) {
    SCOPED_TRACE(describe(c));
    auto a = z1.clone().requires_grad_(), b = z2.clone().requires_grad_();
    contrastive_loss(a, b, c).loss.backward();
    const auto loss_of = [&](const torch::Tensor& x) { return brute_force(x, z2, c); };
    EXPECT_LT(testing::worst_finite_difference_error(z1, a.grad(), loss_of), 1e-6);
  }
}

// DCL is NT-Xent with the positive taken out of the denominator: the two
// differ by the mean over anchors of log(1 + exp(s+/tau) / sum_neg exp(s-/tau)),
// and DCLW with equal positive similarities (every weight 2 - 1 = 1) is DCL.
TEST(ContrastiveLoss, DecoupledLossesRelateToNtXentAsDefined) {
  torch::manual_seed(8);
  const auto z1 = torch::randn({6, 4}, torch::kDouble), z2 = torch::randn({6, 4}, torch::kDouble);
  config::LossConfig c;
  c.temperature = 0.3;
  c.name = "nt_xent";
  const double nt_xent = contrastive_loss(z1, z2, c).loss.item<double>();
  c.name = "dcl";
  const double dcl = contrastive_loss(z1, z2, c).loss.item<double>();
  EXPECT_LT(dcl, nt_xent);  // a smaller denominator
  // Pairs with the same positive similarity: z2 = z1 rotated by the same angle in a plane of their own.
  auto a = torch::zeros({4, 8}, torch::kDouble), b = torch::zeros({4, 8}, torch::kDouble);
  for (int64_t i = 0; i < 4; ++i) {
    a[i][2 * i] = 1.0;
    b[i][2 * i] = std::cos(0.4);
    b[i][2 * i + 1] = std::sin(0.4);
  }
  const double equal_dcl = contrastive_loss(a, b, c).loss.item<double>();
  c.name = "dclw";
  EXPECT_NEAR(contrastive_loss(a, b, c).loss.item<double>(), equal_dcl, 1e-12);
}

TEST(ContrastiveLoss, SemiHardMiningDropsTheNegativesCloserThanThePositive) {
  // Anchor 0's positive has similarity 0.5; one negative is closer (0.9),
  // one farther (0.1): margin with m = 1 counts only the farther one.
  const auto z1 = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kDouble);
  const auto z2 = torch::tensor({{0.5, 0.0}, {0.9, 0.1}}, torch::kDouble);
  config::LossConfig c;
  c.name = "margin";
  c.normalize = false;
  c.margin = 1.0;
  c.semi_hard = true;
  const double mined = contrastive_loss(z1, z2, c).loss.item<double>();
  c.semi_hard = false;
  const double all = contrastive_loss(z1, z2, c).loss.item<double>();
  EXPECT_NEAR(mined, brute_force(z1, z2, [&] { auto s = c; s.semi_hard = true; return s; }()), 1e-12);
  EXPECT_LT(mined, all);
}

TEST(ContrastiveLoss, UnknownLossIsNamed) {
  config::LossConfig c;
  c.name = "infonce";
  const auto z = torch::randn({3, 4});
  EXPECT_NE(testing::error_of([&] { contrastive_loss(z, z, c); }).find("'infonce'"), std::string::npos);
  config::Config config;
  EXPECT_NE(testing::error_of([&] {
              config::set(config, "loss.name", "infonce");
              config::validate(config);
            }).find("loss.name"),
            std::string::npos);
}

TEST(ProjectionHead, NoLayersMeansZIsH) {
  config::ModelConfig mc;
  mc.width = 4;
  mc.head_layers = 0;
  auto model = models::build_model(mc, 1, 12);
  EXPECT_EQ(model->head->parameters().size(), 0u);
  EXPECT_EQ(model->head->output_dim(0), model->encoder->feature_dim());
  const auto v = model->forward(torch::rand({2, 1, 12, 12}));
  EXPECT_TRUE(torch::equal(v.h, v.z));
  mc.head_layers = 1;  // linear: one Linear(h, 128)
  auto linear = models::build_model(mc, 1, 12);
  EXPECT_EQ(linear->head->parameters().size(), 2u);
  EXPECT_EQ(linear->forward(torch::rand({2, 1, 12, 12})).z.size(1), 128);
}

}  // namespace
}  // namespace simclr::loss

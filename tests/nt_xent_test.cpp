#include "simclr/loss/nt_xent.h"

#include <ATen/autocast_mode.h>

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr::loss {
namespace {
using testing::golden;
using testing::tensor_of;

TEST(NtXent, MatchesPyTorchReferenceValueAndGradient) {
  for (const auto& c : golden()["nt_xent"]) {
    const int64_t n = c["n"], d = c["d"];
    auto z1 = tensor_of(c["z1"], {n, d}).requires_grad_();
    auto z2 = tensor_of(c["z2"], {n, d}).requires_grad_();
    auto out = nt_xent(z1, z2, c["tau"].get<double>());
    out.loss.backward();
    EXPECT_NEAR(out.loss.item<double>(), c["loss"].get<double>(), 1e-10) << "n=" << n;
    EXPECT_TRUE(torch::allclose(z1.grad(), tensor_of(c["grad_z1"], {n, d}), 1e-9, 1e-11));
    EXPECT_TRUE(torch::allclose(z2.grad(), tensor_of(c["grad_z2"], {n, d}), 1e-9, 1e-11));
  }
}

TEST(NtXent, Float32MatchesReferenceWithinFloatTolerance) {
  const auto& c = golden()["nt_xent"][0];
  const int64_t n = c["n"], d = c["d"];
  auto out = nt_xent(tensor_of(c["z1"], {n, d}, torch::kFloat), tensor_of(c["z2"], {n, d}, torch::kFloat),
                     c["tau"].get<double>());
  EXPECT_EQ(out.loss.scalar_type(), torch::kFloat);
  EXPECT_NEAR(out.loss.item<double>(), c["loss"].get<double>(), 1e-5);
}

TEST(NtXent, GradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  auto z1 = torch::randn({3, 5}, torch::kDouble).requires_grad_();
  auto z2 = torch::randn({3, 5}, torch::kDouble).requires_grad_();
  const double tau = 0.3;
  nt_xent(z1, z2, tau).loss.backward();
  const double eps = 1e-6;
  for (auto* z : {&z1, &z2}) {
    auto flat = z->detach().clone().flatten();
    for (int64_t i = 0; i < flat.numel(); ++i) {
      auto plus = flat.clone(), minus = flat.clone();
      plus[i] += eps;
      minus[i] -= eps;
      auto other = (z == &z1) ? z2.detach() : z1.detach();
      auto f = [&](const torch::Tensor& v) {
        auto zz = v.reshape({3, 5});
        return (z == &z1 ? nt_xent(zz, other, tau) : nt_xent(other, zz, tau)).loss.item<double>();
      };
      const double numeric = (f(plus) - f(minus)) / (2 * eps);
      EXPECT_NEAR(z->grad().flatten()[i].item<double>(), numeric, 1e-7);
    }
  }
}

// Plain per-anchor loop, the definition of eq. (1), for any N.
double plain_nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double tau) {
  auto z = torch::cat({z1, z2}).to(torch::kDouble);
  z = z / z.norm(2, 1, true);
  const int64_t n2 = z.size(0), n = n2 / 2;
  double total = 0;
  for (int64_t i = 0; i < n2; ++i) {
    std::vector<double> logits;
    double positive = 0;
    for (int64_t k = 0; k < n2; ++k) {
      if (k == i) continue;
      const double s = (z[i] * z[k]).sum().item<double>() / tau;
      logits.push_back(s);
      if (k == (i + n) % n2) positive = s;
    }
    const double m = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits) sum += std::exp(l - m);
    total += -(positive - m - std::log(sum));
  }
  return total / n2;
}

TEST(NtXent, BatchSizeComesFromTheTensors) {
  // Batches of every size, including a short last batch and a single pair,
  // agree with the plain definition.
  torch::manual_seed(11);
  const auto z1 = torch::randn({9, 6}, torch::kDouble), z2 = torch::randn({9, 6}, torch::kDouble);
  for (int64_t n : {9, 7, 2, 1}) {
    const auto a = z1.narrow(0, 0, n), b = z2.narrow(0, 0, n);
    EXPECT_NEAR(nt_xent(a, b, 0.2).loss.item<double>(), plain_nt_xent(a, b, 0.2), 1e-10) << "n=" << n;
  }
}

TEST(NtXent, StableAtSmallTemperatureAndUnderBf16) {
  // Identical views at tau = 0.01 give logits of 100: exp overflows in bf16/
  // fp16 without log-sum-exp. The loss must stay finite and near its limit.
  auto z = torch::randn({8, 16});
  auto out = nt_xent(z.to(torch::kBFloat16), z.to(torch::kBFloat16), 0.01);
  EXPECT_EQ(out.loss.scalar_type(), torch::kFloat);
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  EXPECT_DOUBLE_EQ(out.top1.item<double>(), 1.0);
}

TEST(NtXent, TopOneCountsPartnersRankedFirst) {
  auto z1 = torch::eye(4), z2 = torch::eye(4);  // each view equals its partner
  EXPECT_DOUBLE_EQ(nt_xent(z1, z2, 0.5).top1.item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(nt_xent(z1, z2.roll(1, 0), 0.5).top1.item<double>(), 0.0);
}

TEST(NtXent, RejectsBadInput) {
  EXPECT_THROW(nt_xent(torch::randn({4, 3}), torch::randn({4, 3}), 0.0), Error);
  EXPECT_THROW(nt_xent(torch::randn({4, 3}), torch::randn({5, 3}), 0.5), Error);
}


TEST(NtXent, FusedMatchesPlainAutogradPath) {
  // The fused forward/backward against mm + cross_entropy under autograd,
  // in double (tight) and float (float tolerance), over batch sizes.
  torch::manual_seed(5);
  for (auto dtype : {torch::kDouble, torch::kFloat}) {
    const double tol = dtype == torch::kDouble ? 1e-12 : 1e-5;
    for (int64_t n : {1, 3, 64}) {
      auto a1 = torch::randn({n, 16}, dtype).requires_grad_(), a2 = torch::randn({n, 16}, dtype).requires_grad_();
      auto b1 = a1.detach().clone().requires_grad_(), b2 = a2.detach().clone().requires_grad_();
      const auto fused = nt_xent(a1, a2, 0.1), plain = nt_xent_reference(b1, b2, 0.1);
      (fused.loss * 3).backward();  // a non-unit upstream gradient
      (plain.loss * 3).backward();
      EXPECT_NEAR(fused.loss.item<double>(), plain.loss.item<double>(), tol) << "n=" << n;
      EXPECT_DOUBLE_EQ(fused.top1.item<double>(), plain.top1.item<double>());
      EXPECT_TRUE(torch::allclose(a1.grad(), b1.grad(), tol, tol)) << "n=" << n;
      EXPECT_TRUE(torch::allclose(a2.grad(), b2.grad(), tol, tol)) << "n=" << n;
    }
  }
}

TEST(NtXent, StaysFp32InsideAnAutocastRegion) {
  // Under bf16 autocast, mm would run in bf16 (8-bit mantissa: logits off by
  // ~1e-2 at tau 0.2). The loss switches autocast off, so it equals the fp32
  // value to float precision.
  torch::manual_seed(6);
  const auto z1 = torch::randn({32, 64}), z2 = torch::randn({32, 64});
  const double expected = nt_xent_reference(z1, z2, 0.2).loss.item<double>();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  const double fused = nt_xent(z1, z2, 0.2).loss.item<double>();
  const double plain = nt_xent_reference(z1, z2, 0.2).loss.item<double>();
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_NEAR(fused, expected, 1e-5);
  EXPECT_NEAR(plain, expected, 1e-5);
}

TEST(NtXent, SecondBackwardIsAnErrorNotWrongGradients) {
  auto z1 = torch::randn({4, 3}, torch::requires_grad()), z2 = torch::randn({4, 3}, torch::requires_grad());
  auto out = nt_xent(z1, z2, 0.5);
  out.loss.backward({}, /*retain_graph=*/true);
  EXPECT_THROW(out.loss.backward(), std::exception);
}

}  // namespace
}  // namespace simclr::loss

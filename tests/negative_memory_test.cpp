// The memory of negatives (train/negative_memory.h) and NT-Xent with extra
// negatives: the loss against a per-anchor definition in double with
// gradients by finite differences; the memory against a plain reference
// (every key ever made, the newest `size` kept; the momentum model as an
// explicit moving average) over steps that wrap around, and across a save
// and load in the middle.
#include "simclr/train/negative_memory.h"

#include <algorithm>
#include <cmath>

#include "simclr/loss/nt_xent.h"
#include "simclr/optim/lars.h"
#include "simclr/train/step.h"
#include "test_util.h"

namespace simclr::train {
namespace {
using namespace simclr::testing;

// -log( exp(s+/t) / (sum_{k != i} exp(s_k/t) + sum_q exp(s_q/t)) ), averaged over the 2N anchors.
double brute_force(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& memory, double t) {
  auto z = torch::cat({z1, z2}, 0);
  z = z / z.norm(2, 1, true);
  const int64_t n = z1.size(0), m = 2 * n;
  const auto s = torch::mm(z, z.t()), sq = torch::mm(z, memory.t());
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    double denom = 0;
    for (int64_t k = 0; k < m; ++k) {
      if (k != i) denom += std::exp(s[i][k].item<double>() / t);
    }
    for (int64_t q = 0; q < memory.size(0); ++q) denom += std::exp(sq[i][q].item<double>() / t);
    total += -(s[i][(i + n) % m].item<double>() / t - std::log(denom));
  }
  return total / static_cast<double>(m);
}

torch::Tensor unit_rows(torch::Tensor x) { return x / x.norm(2, 1, true); }

TEST(NtXentWithMemory, MatchesItsDefinitionAndFiniteDifferences) {
  torch::manual_seed(3);
  const auto z1 = torch::randn({4, 5}, torch::kDouble), z2 = torch::randn({4, 5}, torch::kDouble);
  const auto memory = unit_rows(torch::randn({7, 5}, torch::kDouble));
  auto a = z1.clone().requires_grad_(), b = z2.clone().requires_grad_();
  const auto out = loss::nt_xent(a, b, 0.4, true, memory);
  EXPECT_NEAR(out.loss.item<double>(), brute_force(z1, z2, memory, 0.4), 1e-12);
  out.loss.backward();
  EXPECT_LT(worst_finite_difference_error(z1, a.grad(),
                                          [&](const torch::Tensor& x) { return brute_force(x, z2, memory, 0.4); }),
            1e-7);
  // No memory: the plain loss. The anchors' version over gathered rows agrees.
  EXPECT_NEAR(loss::nt_xent(z1, z2, 0.4, true, memory.narrow(0, 0, 0)).loss.item<double>(),
              loss::nt_xent(z1, z2, 0.4).loss.item<double>(), 1e-12);
  const auto all = loss::normalize_projections(torch::cat({z1, z2}, 0));
  EXPECT_NEAR(loss::nt_xent_anchors(all, 0, 8, 0.4, memory).loss.item<double>(), out.loss.item<double>(), 1e-12);
  EXPECT_NE(error_of([&] { loss::nt_xent(z1, z2, 0.4, true, torch::zeros({3, 4}, torch::kDouble)); }), "");
}

models::SimclrModel tiny_model(uint64_t seed) {
  config::ModelConfig mc;
  mc.width = 4;
  mc.head_dim = 8;
  torch::manual_seed(seed);
  auto model = models::build_model(mc, 3, 16);
  model->to(torch::kDouble);
  return model;
}

torch::Tensor views_of(int step) {
  auto gen = at::detail::createCPUGenerator(300 + step);
  return at::rand({6, 3, 16, 16}, gen).to(torch::kDouble);  // 3 pairs: 6 keys a step
}

// The trained model moves between steps as an optimizer would move it.
void perturb(models::SimclrModel& model, int step) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(400 + step);
  for (auto& p : model->parameters()) p.add_(at::randn(p.sizes(), gen).to(torch::kDouble) * 0.05);
}

// Rows sorted by their first column (distinct for random keys): the memory as a set.
torch::Tensor sorted_rows(const torch::Tensor& x) {
  const auto order = std::get<1>(x.select(1, 0).sort());
  return x.index_select(0, order);
}

constexpr int64_t kSize = 10;  // 6 keys a step: wraps at step 2
constexpr double kMomentum = 0.9;

// The reference: a momentum model updated parameter by parameter, every key
// kept, the newest kSize of them as the expected memory.
struct Reference {
  models::SimclrModel momentum;
  std::vector<torch::Tensor> keys;  // [1, d] each, oldest first
  explicit Reference(const models::SimclrModel& online) : momentum(tiny_model(99)) {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < online->parameters().size(); ++k) {
      momentum->parameters()[k].copy_(online->parameters()[k]);
    }
    for (size_t k = 0; k < online->buffers().size(); ++k) momentum->buffers()[k].copy_(online->buffers()[k]);
  }
  void step(const models::SimclrModel& online, const torch::Tensor& views) {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < online->parameters().size(); ++k) {
      auto p = momentum->parameters()[k];
      p.copy_(kMomentum * p + (1 - kMomentum) * online->parameters()[k]);
    }
    const auto z = loss::normalize_projections(momentum->forward(views).z);
    for (int64_t r = 0; r < z.size(0); ++r) keys.push_back(z.narrow(0, r, 1).clone());
  }
  torch::Tensor memory() const {
    const auto from = keys.size() > static_cast<size_t>(kSize) ? keys.size() - kSize : 0;
    return torch::cat(std::vector<torch::Tensor>(keys.begin() + static_cast<std::ptrdiff_t>(from), keys.end()), 0);
  }
};

void run_steps(NegativeMemory& memory, Reference& reference, models::SimclrModel& online, int from, int to) {
  for (int s = from; s < to; ++s) {
    SCOPED_TRACE(fmt::format("step {}", s));
    perturb(online, s);
    const auto x = views_of(s);
    memory.begin_step(online, x, Precision::kFp32, torch::kCPU, {}, nullptr);
    // The loss of this step sees the memory before this step's keys.
    if (s == 0) {
      EXPECT_FALSE(memory.negatives().defined());
    } else {
      EXPECT_TRUE(torch::allclose(sorted_rows(memory.negatives()), sorted_rows(reference.memory()), 0, 1e-12));
    }
    memory.commit();
    reference.step(online, x);
    EXPECT_EQ(memory.filled(), std::min<int64_t>(kSize, 6 * (s + 1)));
  }
}

TEST(NegativeMemory, MatchesAReferenceOverStepsThatWrapAround) {
  auto online = tiny_model(1);
  NegativeMemory memory(tiny_model(2), online, kSize, 8, kMomentum);
  Reference reference(online);
  run_steps(memory, reference, online, 0, 5);
  EXPECT_TRUE(torch::allclose(sorted_rows(memory.negatives()), sorted_rows(reference.memory()), 0, 1e-12));
  const auto mine = memory.momentum_model()->parameters(), theirs = reference.momentum->parameters();
  for (size_t k = 0; k < mine.size(); ++k) EXPECT_TRUE(torch::allclose(mine[k], theirs[k], 0, 1e-12));
}

TEST(NegativeMemory, ASavedAndLoadedMemoryContinuesExactly) {
  auto online = tiny_model(1);
  NegativeMemory first(tiny_model(2), online, kSize, 8, kMomentum);
  Reference reference(online);
  run_steps(first, reference, online, 0, 3);
  TempDir dir;
  {
    torch::serialize::OutputArchive archive;
    first.save(archive);
    archive.save_to(dir / "memory.pt");
  }
  // A new memory built from other weights, then loaded: the saved one goes on.
  NegativeMemory second(tiny_model(5), tiny_model(6), kSize, 8, kMomentum);
  torch::serialize::InputArchive in;
  in.load_from(dir / "memory.pt");
  second.load(in);
  run_steps(second, reference, online, 3, 6);
  // Another size is refused with the key to fix.
  NegativeMemory other(tiny_model(5), online, kSize + 1, 8, kMomentum);
  torch::serialize::InputArchive again;
  again.load_from(dir / "memory.pt");
  EXPECT_NE(error_of([&] { other.load(again); }).find("loss.queue_size"), std::string::npos);
}

// More keys in a step than the memory holds: only the newest stay.
TEST(NegativeMemory, KeepsOnlyTheNewestWhenAStepBringsMoreThanItHolds) {
  auto online = tiny_model(1);
  NegativeMemory memory(tiny_model(2), online, 4, 8, kMomentum);
  memory.begin_step(online, views_of(0), Precision::kFp32, torch::kCPU, {}, nullptr);
  memory.commit();
  EXPECT_EQ(memory.filled(), 4);
  Reference reference(online);
  reference.step(online, views_of(0));
  const auto expected = torch::cat({reference.keys[2], reference.keys[3], reference.keys[4], reference.keys[5]});
  EXPECT_TRUE(torch::allclose(sorted_rows(memory.negatives()), sorted_rows(expected), 0, 1e-12));
}

TEST(NegativeMemory, OnlyNtXentTakesAQueue) {
  config::Config c;
  config::set(c, "loss.queue_size", "64");
  config::set(c, "loss.name", "margin");
  EXPECT_NE(error_of([&] { config::validate(c); }).find("loss.queue_size"), std::string::npos);
  config::set(c, "loss.name", "nt_xent");
  EXPECT_EQ(error_of([&] { config::validate(c); }), "");
}

}  // namespace
}  // namespace simclr::train

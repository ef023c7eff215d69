#include "simclr/optim/lars.h"
#include "simclr/optim/schedule.h"
#include "test_util.h"

namespace simclr::optim {
namespace {
using testing::golden;
using testing::tensor_of;

TEST(Lars, MatchesOfficialSimclrUpdateOverSeveralSteps) {
  const auto& g = golden()["lars"];
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  for (const auto& [name, shape] : g["shapes"].items()) {
    names.push_back(name);
    params.push_back(tensor_of(g["init"][name], shape.get<std::vector<int64_t>>()).requires_grad_());
  }
  Lars lars(params, {g["momentum"].get<double>(), g["weight_decay"].get<double>(), g["eta"].get<double>(), true});
  for (size_t step = 0; step < g["lrs"].size(); ++step) {
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].mutable_grad() = tensor_of(g["grads"][step][names[i]], params[i].sizes().vec());
    }
    lars.set_lr(g["lrs"][step].get<double>());
    lars.step();
  }
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(torch::allclose(params[i].detach(), tensor_of(g["final"][names[i]], params[i].sizes().vec()), 1e-12,
                                1e-12))
        << names[i];
  }
}

TEST(Lars, ExcludesBatchNormAndBiasFromDecayAndAdaptation) {
  // A 1-d parameter takes a plain momentum step with no decay and trust 1,
  // even when weight decay is huge.
  auto bias = torch::ones({3}, torch::kDouble).requires_grad_();
  Lars lars({bias}, {0.9, 10.0, 1e-3, true});
  bias.mutable_grad() = torch::full({3}, 0.5, torch::kDouble);
  lars.set_lr(0.1);
  lars.step();
  EXPECT_TRUE(torch::allclose(bias.detach(), torch::full({3}, 1.0 - 0.05, torch::kDouble)));
  EXPECT_TRUE(Lars::is_excluded(bias));
  EXPECT_FALSE(Lars::is_excluded(torch::ones({2, 2})));
}

TEST(Lars, TrustRatioBoundsTheStepRelativeToTheWeight) {
  // With eta = 1e-3 and lr = 1 the first step moves a weight by eta * ||w||
  // whatever the gradient's scale.
  for (double scale : {1e-3, 1.0, 1e4}) {
    auto w = torch::randn({4, 4}, torch::kDouble).requires_grad_();
    const auto before = w.detach().clone();
    Lars lars({w}, {0.9, 0.0, 1e-3, true});
    w.mutable_grad() = torch::randn({4, 4}, torch::kDouble) * scale;
    lars.set_lr(1.0);
    lars.step();
    EXPECT_NEAR((w.detach() - before).norm().item<double>(), 1e-3 * before.norm().item<double>(), 1e-12);
  }
}

TEST(Lars, SgdModeIsMomentumSgdWithDecay) {
  auto w = torch::ones({2, 2}, torch::kDouble).requires_grad_();
  Lars sgd({w}, {0.9, 0.1, 1e-3, false});
  w.mutable_grad() = torch::full({2, 2}, 1.0, torch::kDouble);
  sgd.set_lr(0.5);
  sgd.step();  // v = 0.5 * (1 + 0.1 * 1) = 0.55
  EXPECT_TRUE(torch::allclose(w.detach(), torch::full({2, 2}, 0.45, torch::kDouble)));
}

TEST(Lars, SkipsParametersWithoutGradient) {
  auto w = torch::ones({2, 2}).requires_grad_();
  Lars lars({w}, {});
  lars.set_lr(1.0);
  lars.step();
  EXPECT_TRUE(torch::equal(w.detach(), torch::ones({2, 2})));
}

TEST(Lars, StateRoundTripsThroughArchive) {
  auto w = torch::randn({3, 3}).requires_grad_();
  Lars a({w}, {});
  w.mutable_grad() = torch::randn({3, 3});
  a.set_lr(0.7);
  a.step();
  torch::serialize::OutputArchive out;
  a.save(out);
  std::stringstream buffer;
  out.save_to(buffer);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  auto w2 = w.detach().clone().requires_grad_();
  Lars b({w2}, {});
  b.load(in);
  EXPECT_DOUBLE_EQ(b.lr(), 0.7);
  w.mutable_grad() = torch::ones({3, 3});
  w2.mutable_grad() = torch::ones({3, 3});
  a.step();
  b.step();
  EXPECT_TRUE(torch::equal(w.detach(), w2.detach()));
}

TEST(Schedule, MatchesOfficialWarmupCosine) {
  for (const auto& c : golden()["schedule"]) {
    EXPECT_NEAR(warmup_cosine(c["step"], c["total"], c["warmup"], c["peak"]), c["lr"].get<double>(), 1e-12)
        << c.dump();
  }
}

TEST(Schedule, ScalesWithBatchSize) {
  EXPECT_DOUBLE_EQ(scaled_lr(0.3, 4096, "linear"), 4.8);
  EXPECT_DOUBLE_EQ(scaled_lr(0.075, 256, "sqrt"), 1.2);
  EXPECT_DOUBLE_EQ(scaled_lr(0.075, 4096, "sqrt"), 4.8);
  EXPECT_THROW(scaled_lr(0.3, 256, "cubic"), std::exception);
}

TEST(Schedule, ShortRunsAreWarnedAbout) {
  EXPECT_FALSE(schedule_warning(1000, 0.1).has_value());
  EXPECT_FALSE(schedule_warning(10, 0.1).has_value());  // warm-up of exactly 1 step
  EXPECT_FALSE(schedule_warning(50, 0).has_value());    // no warm-up asked for
  const auto few = schedule_warning(5, 0);
  ASSERT_TRUE(few.has_value());
  EXPECT_NE(few->find("only 5 optimizer steps"), std::string::npos) << *few;
  const auto no_warmup = schedule_warning(50, 0.01);
  ASSERT_TRUE(no_warmup.has_value());
  EXPECT_NE(no_warmup->find("warm-up of 0.5 steps"), std::string::npos) << *no_warmup;
  EXPECT_NE(no_warmup->find("at least 100 steps"), std::string::npos) << *no_warmup;
}

TEST(Schedule, EpochBudgetsThatOverflowAreRefused) {
  EXPECT_EQ(epoch_budget_steps(100, 234), 23400);
  EXPECT_EQ(epoch_budget_steps(1'000'000'000, 1000), kMaxBudgetSteps);
  const auto msg = simclr::testing::error_of([] { epoch_budget_steps(1'000'000'000, 1'000'000'000'000); });
  EXPECT_NE(msg.find("lower train.epochs to at most 1"), std::string::npos) << msg;
  EXPECT_NE(simclr::testing::error_of([] { epoch_budget_steps(1'000'000'001, 1000); }), "");
}

}  // namespace
}  // namespace simclr::optim

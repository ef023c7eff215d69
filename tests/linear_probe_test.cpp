#include "simclr/eval/linear_probe.h"

#include "simclr/eval/features.h"
#include "simclr/eval/linear_eval.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/models/simclr_model.h"
#include "simclr/train/pretrain.h"
#include "test_util.h"

namespace simclr::eval {
namespace {
using namespace simclr::testing;

Features blobs(int64_t n, uint64_t seed) {
  // Three Gaussian classes in 5-D, well separated along different axes.
  torch::manual_seed(seed);
  auto y = torch::arange(n) % 3;
  auto x = torch::randn({n, 5}) * 0.3;
  x.index_put_({torch::arange(n), y}, x.index({torch::arange(n), y}) + 3.0);
  return {x, y};
}

TEST(LinearProbe, SeparatesSeparableClassesAndReportsTopK) {
  const auto train = blobs(300, 1), test = blobs(90, 2);
  LinearProbeOptions o;
  o.weight_decays = {0, 1e-2};
  const auto r = linear_probe(train, test, o);
  EXPECT_GT(r.top1, 0.98);
  EXPECT_DOUBLE_EQ(r.top5, 1.0);  // k is capped at the number of classes
  EXPECT_EQ(r.holdout_top1.size(), 2u);
}

TEST(LinearProbe, MatchesTheUnregularisedOptimumOfAPlainGradientDescent) {
  // A plain reference: full-batch gradient descent on the same objective for
  // many steps reaches the same loss as L-BFGS.
  const auto train = blobs(120, 4);
  const double wd = 1e-2;
  const auto c = fit_logistic_regression(train.x, train.y, 3, wd, 500);
  auto objective = [&](const torch::Tensor& w, const torch::Tensor& b) {
    const auto xs = (train.x - c.mean) / c.std;
    return (torch::nn::functional::cross_entropy(torch::addmm(b, xs, w.t()), train.y) +
            0.5 * wd * w.pow(2).sum())
        .item<double>();
  };
  auto w = torch::zeros({3, 5}, torch::requires_grad()), b = torch::zeros({3}, torch::requires_grad());
  torch::optim::SGD gd({w, b}, 0.5);
  for (int i = 0; i < 3000; ++i) {
    gd.zero_grad();
    const auto xs = (train.x - c.mean) / c.std;
    auto loss = torch::nn::functional::cross_entropy(torch::addmm(b, xs, w.t()), train.y) + 0.5 * wd * w.pow(2).sum();
    loss.backward();
    gd.step();
  }
  EXPECT_NEAR(objective(c.weight, c.bias), objective(w.detach(), b.detach()), 1e-4);
}

TEST(LinearEval, TheEncoderStaysFrozen) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 32);
  auto config = toy_config(data.str());
  config.train.steps = 3;
  train::pretrain(config, run / "r", false);

  serialize::CheckpointReader reader(run / "r");
  auto model = models::build_model(reader.config().model, 1, 12);
  reader.load_model(model);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->encoder->named_parameters()) before[p.key()] = p.value().detach().clone();
  for (const auto& b : model->encoder->named_buffers()) before[b.key()] = b.value().detach().clone();

  // Feature extraction on the same encoder object: no parameter or BN
  // statistic may move, and the features carry no graph.
  auto train = data::IdxDataset::open_folder(data.str(), data::Split::kTrain);
  model->train();
  FeatureOptions fo;
  fo.size = 12;
  const auto f = extract_features(model->encoder, train, fo);
  EXPECT_TRUE(model->encoder->is_training());  // mode restored
  EXPECT_FALSE(f.x.requires_grad());
  EXPECT_EQ(f.x.sizes().vec(), (std::vector<int64_t>{64, 32}));  // 8 x width
  for (const auto& p : model->encoder->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), before[p.key()]));
  for (const auto& b : model->encoder->named_buffers()) EXPECT_TRUE(torch::equal(b.value(), before[b.key()])) << b.key();

  // The whole protocol leaves the checkpoint's weights as they were.
  auto eval_config = reader.config();
  eval_config.eval.weight_decays = "0,1e-3";
  eval_config.eval.max_iter = 50;
  const auto r = linear_eval(eval_config, &reader);
  EXPECT_GT(r.probe.top1, 0.5);  // two easy classes
  EXPECT_EQ(r.train_size, 64);
  EXPECT_EQ(r.test_size, 32);
  auto reloaded = models::build_model(reader.config().model, 1, 12);
  serialize::CheckpointReader(run / "r").load_model(reloaded);
  for (const auto& p : reloaded->encoder->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), before[p.key()]));
}

}  // namespace
}  // namespace simclr::eval

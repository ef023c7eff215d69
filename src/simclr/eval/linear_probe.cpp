#include "simclr/eval/linear_probe.h"

#include <spdlog/spdlog.h>

#include "simclr/core/error.h"
#include "simclr/core/rng.h"
#include "simclr/core/interrupt.h"

namespace simclr::eval {

torch::Tensor LinearClassifier::logits(const torch::Tensor& x) const {
  return torch::addmm(bias, (x - mean) / std, weight.t());
}

LinearClassifier fit_logistic_regression(const torch::Tensor& x, const torch::Tensor& y, int64_t num_classes,
                                         double weight_decay, int64_t max_iter) {
  LinearClassifier c;
  c.mean = x.mean(0);
  c.std = x.std(0).clamp_min(1e-6);  // constant features (dead units) stay harmless
  const auto xs = ((x - c.mean) / c.std).contiguous();
  auto weight = torch::zeros({num_classes, x.size(1)}, torch::requires_grad());
  auto bias = torch::zeros({num_classes}, torch::requires_grad());
  torch::optim::LBFGS lbfgs({weight, bias}, torch::optim::LBFGSOptions(1.0)
                                                .max_iter(max_iter)
                                                .max_eval(max_iter * 5 / 4)
                                                .history_size(20)
                                                .tolerance_grad(1e-6)
                                                .tolerance_change(1e-10)
                                                .line_search_fn("strong_wolfe"));
  lbfgs.step([&] {
    interrupt_point("probe");  // hundreds of evaluations on large feature sets: stay responsive
    lbfgs.zero_grad();
    // Mean cross-entropy plus (wd/2)||W||^2, the objective of sklearn's
    // LogisticRegression with C = 1 / (N wd).
    auto loss = torch::nn::functional::cross_entropy(torch::addmm(bias, xs, weight.t()), y) +
                0.5 * weight_decay * weight.pow(2).sum();
    loss.backward();
    return loss;
  });
  c.weight = weight.detach();
  c.bias = bias.detach();
  return c;
}

double topk_accuracy(const torch::Tensor& logits, const torch::Tensor& y, int64_t k) {
  k = std::min<int64_t>(k, logits.size(1));
  const auto top = std::get<1>(logits.topk(k, 1));
  return top.eq(y.unsqueeze(1)).any(1).to(torch::kDouble).mean().item<double>();
}

LinearProbeResult linear_probe(const Features& train, const Features& test, const LinearProbeOptions& options) {
  SIMCLR_CHECK(train.x.size(0) >= 10, "the linear probe needs at least 10 training samples, got {}", train.x.size(0));
  SIMCLR_CHECK(!options.weight_decays.empty(), "the linear probe needs at least one weight decay value");
  const int64_t num_classes = std::max(train.y.max().item<int64_t>(), test.y.max().item<int64_t>()) + 1;
  LinearProbeResult result;

  torch::NoGradGuard no_grad_outside;  // features never carry gradients back to the encoder
  double best = -1;
  if (options.weight_decays.size() == 1) {
    result.weight_decay = options.weight_decays[0];
  } else {
    // Seeded hold-out split of the training features.
    const int64_t n = train.x.size(0);
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    Rng rng(derive_seed(options.seed, 0x50524f4245ull));
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
    const auto perm = torch::tensor(order);
    const int64_t n_hold = std::max<int64_t>(1, static_cast<int64_t>(n * options.holdout_fraction));
    const auto hold = perm.narrow(0, 0, n_hold), fit = perm.narrow(0, n_hold, n - n_hold);
    for (double wd : options.weight_decays) {
      check_interrupt();
      torch::AutoGradMode grad(true);
      const auto c = fit_logistic_regression(train.x.index_select(0, fit), train.y.index_select(0, fit), num_classes,
                                             wd, options.max_iter);
      const double acc = topk_accuracy(c.logits(train.x.index_select(0, hold)), train.y.index_select(0, hold), 1);
      result.holdout_top1.push_back(acc);
      spdlog::info("linear probe: weight decay {:g} -> hold-out top-1 {:.2f}%", wd, 100 * acc);
      if (acc > best) {
        best = acc;
        result.weight_decay = wd;
      }
    }
  }
  LinearClassifier c;
  check_interrupt();
  {
    torch::AutoGradMode grad(true);
    c = fit_logistic_regression(train.x, train.y, num_classes, result.weight_decay, options.max_iter);
  }
  result.train_top1 = topk_accuracy(c.logits(train.x), train.y, 1);
  const auto logits = c.logits(test.x);
  result.top1 = topk_accuracy(logits, test.y, 1);
  result.top5 = topk_accuracy(logits, test.y, 5);
  return result;
}

}  // namespace simclr::eval

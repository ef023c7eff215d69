// models/conv2d.h: the GEMM route of a convolution's backward pass against
// LibTorch's own (in fp64, where the two must agree to rounding), against
// finite differences, in bf16 against fp64, and a whole ResNet-18 step with
// the route on and off.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "simclr/core/precision.h"
#include "simclr/models/conv2d.h"
#include "simclr/models/simclr_model.h"

namespace simclr::models {
namespace {

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const auto ad = a.to(torch::kDouble), bd = b.to(torch::kDouble);
  return (ad - bd).norm().item<double>() / bd.norm().item<double>();
}

struct Shape {
  int64_t in, out, side, kernel, stride;
};

// Every kind of layer the route serves, and the odd sides where the last
// window is cut short.
const std::vector<Shape> kShapes = {{8, 16, 9, 1, 2}, {8, 16, 8, 1, 2}, {6, 12, 7, 3, 2}, {6, 12, 8, 3, 2},
                                    {10, 10, 4, 3, 1}, {10, 10, 5, 3, 1}, {4, 6, 5, 1, 1}};

// (grad_input, grad_weight) of sum(conv(x, w) * g), through the GEMM route or LibTorch's.
std::vector<torch::Tensor> grads(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& g, int64_t stride,
                                 int64_t pad, bool gemm) {
  const auto xv = x.detach().requires_grad_(), wv = w.detach().requires_grad_();
  const auto y = gemm ? conv2d_gemm_backward(xv, wv, stride, pad) : torch::conv2d(xv, wv, {}, stride, pad);
  return torch::autograd::grad({y}, {xv, wv}, {g});
}

std::string name_of(const Shape& s) {
  return fmt::format("{}->{} {}px k{} s{}", s.in, s.out, s.side, s.kernel, s.stride);
}

// A batch of n inputs, the weight and an output gradient for shape s: fp64, channels-last.
struct Case {
  torch::Tensor x, w, g;
};
Case random_case(const Shape& s, int64_t n) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  const auto x = torch::randn({n, s.in, s.side, s.side}, torch::kDouble).contiguous(cl);
  const auto w = torch::randn({s.out, s.in, s.kernel, s.kernel}, torch::kDouble).contiguous(cl);
  const auto g = torch::randn_like(torch::conv2d(x, w, {}, s.stride, s.kernel / 2)).contiguous(cl);
  return {x, w, g};
}

TEST(GemmConvBackward, MatchesLibTorchInFp64) {
  torch::manual_seed(0);
  for (const auto& s : kShapes) {
    SCOPED_TRACE(name_of(s));
    const int64_t pad = s.kernel / 2;
    const auto [x, w, g] = random_case(s, 3);
    const auto y = torch::conv2d(x, w, {}, s.stride, pad);
    EXPECT_LT(rel_diff(conv2d_gemm_backward(x, w, s.stride, pad), y), 1e-14);
    const auto ref = grads(x, w, g, s.stride, pad, false), mine = grads(x, w, g, s.stride, pad, true);
    ASSERT_EQ(mine[0].sizes(), x.sizes());
    ASSERT_EQ(mine[1].sizes(), w.sizes());
    EXPECT_LT(rel_diff(mine[0], ref[0]), 1e-12);
    EXPECT_LT(rel_diff(mine[1], ref[1]), 1e-12);
  }
}

// In LibTorch 1.13 (oneDNN 2.6) on 2 threads, LibTorch's own weight gradient
// of these layers with an odd batch wrote past its buffer and corrupted the
// heap (found through micro-batches of 11 and 10 images; a pure PyTorch
// script does the same). conv2d() takes the GEMM route there: the gradients
// equal the double-precision ones, and the heap survives many steps.
TEST(GemmConvBackward, OddBatchesOfStridedOneByOnesTakeTheExactRouteInFp32) {
  torch::manual_seed(2);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const int saved_threads = torch::get_num_threads();
  torch::set_num_threads(2);
  for (const auto& [in, out, side] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{4, 8, 12}, {8, 16, 14}}) {
    for (const int64_t n : {3, 11, 10}) {
      SCOPED_TRACE(fmt::format("{}->{} on {} px, batch {}", in, out, side, n));
      const auto x = torch::randn({n, in, side, side}).contiguous(cl);
      EXPECT_EQ(onednn_backward_unsafe(x, 1, 2, torch::kFloat), n % 2 == 1);
      EXPECT_FALSE(onednn_backward_unsafe(x, 3, 2, torch::kFloat));
      EXPECT_FALSE(onednn_backward_unsafe(x, 1, 2, torch::kBFloat16));
      auto w = torch::randn({out, in, 1, 1}).contiguous(cl);
      const auto g = torch::randn({n, out, side / 2, side / 2}).contiguous(cl);
      const auto ref = grads(x.to(torch::kDouble), w.to(torch::kDouble), g.to(torch::kDouble), 2, 0, false);
      for (int repeat = 0; repeat < 20; ++repeat) {
        const auto xi = x.clone().requires_grad_(true), wi = w.clone().requires_grad_(true);
        conv2d(xi, wi, 2, 0).backward(g);
        ASSERT_LT(rel_diff(xi.grad(), ref[0].to(torch::kFloat)), 1e-5);
        ASSERT_LT(rel_diff(wi.grad(), ref[1].to(torch::kFloat)), 1e-5);
      }
    }
  }
  torch::set_num_threads(saved_threads);
}

TEST(GemmConvBackward, MatchesFiniteDifferences) {
  torch::manual_seed(1);
  for (const auto& s : {Shape{3, 4, 5, 3, 2}, Shape{3, 4, 5, 1, 2}, Shape{3, 4, 3, 3, 1}}) {
    SCOPED_TRACE(fmt::format("k{} s{}", s.kernel, s.stride));
    const int64_t pad = s.kernel / 2;
    // NCHW memory here: the route takes either layout.
    const auto x = torch::randn({2, s.in, s.side, s.side}, torch::kDouble);
    const auto w = torch::randn({s.out, s.in, s.kernel, s.kernel}, torch::kDouble);
    const auto g = torch::randn_like(torch::conv2d(x, w, {}, s.stride, pad));
    const auto mine = grads(x, w, g, s.stride, pad, true);
    auto loss = [&](const torch::Tensor& xx, const torch::Tensor& ww) {
      return (torch::conv2d(xx, ww, {}, s.stride, pad) * g).sum().item<double>();
    };
    const double h = 1e-6;
    for (const auto& [t, grad, is_x] : {std::tuple{x, mine[0], true}, std::tuple{w, mine[1], false}}) {
      for (int64_t i = 0; i < t.numel(); i += 7) {
        auto plus = t.clone(), minus = t.clone();
        plus.view(-1)[i] += h;
        minus.view(-1)[i] -= h;
        const double fd = is_x ? (loss(plus, w) - loss(minus, w)) / (2 * h) : (loss(x, plus) - loss(x, minus)) / (2 * h);
        EXPECT_NEAR(grad.reshape(-1)[i].item<double>(), fd, 1e-6) << (is_x ? "input " : "weight ") << i;
      }
    }
  }
}

TEST(GemmConvBackward, Bf16IsWithinBf16RoundingOfFp64) {
  torch::manual_seed(2);
  for (const auto& s : kShapes) {
    SCOPED_TRACE(name_of(s));
    const int64_t pad = s.kernel / 2;
    const auto [x, w, g] = random_case(s, 4);
    const auto ref = grads(x, w, g, s.stride, pad, false);
    const auto b = [](const torch::Tensor& t) { return t.to(torch::kBFloat16); };
    const auto mine = grads(b(x), b(w), b(g), s.stride, pad, true);
    EXPECT_EQ(mine[1].scalar_type(), torch::kBFloat16);
    // bf16 keeps 8 bits of mantissa: inputs and the result each round by 2^-9.
    EXPECT_LT(rel_diff(mine[0], ref[0]), 1e-2);
    EXPECT_LT(rel_diff(mine[1], ref[1]), 1e-2);
  }
}

TEST(GemmConvBackward, RouteIsTakenOnlyWhereItHelps) {
  EXPECT_FALSE(gemm_route_helps(256, 256, 3, 1, 4, torch::kFloat)) << "fp32 keeps LibTorch's route";
  EXPECT_FALSE(gemm_route_helps(32, 32, 3, 1, 28, torch::kBFloat16)) << "a large map keeps LibTorch's route";
  EXPECT_FALSE(gemm_route_helps(3, 64, 7, 2, 112, torch::kBFloat16)) << "the ImageNet stem keeps LibTorch's route";
  const auto x = torch::randn({2, 16, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto w = torch::randn({32, 16, 1, 1}).requires_grad_();
  EXPECT_EQ(conv2d(x, w, 2, 0).grad_fn()->name().find("GemmBackwardConv"), std::string::npos) << "fp32";
  if (!gemm_route_helps(16, 32, 1, 2, 4, torch::kBFloat16)) {
    GTEST_SKIP() << "the GEMM route is off on this machine or LibTorch (it serves bf16 on AMX with LibTorch 1.13)";
  }
  AutocastGuard autocast(Precision::kBf16);
  EXPECT_NE(conv2d(x, w, 2, 0).grad_fn()->name().find("GemmBackwardConv"), std::string::npos);
  set_gemm_conv_backward(false);
  EXPECT_EQ(conv2d(x, w, 2, 0).grad_fn()->name().find("GemmBackwardConv"), std::string::npos);
  set_gemm_conv_backward(true);
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(conv2d(x, w, 2, 0).requires_grad());
}

// A whole ResNet-18 w16 training pass in bf16: every parameter's gradient
// with the route on against off (each bf16, so the tolerance is bf16's).
TEST(GemmConvBackward, ResNetGradientsMatchLibTorchRoute) {
  if (!gemm_route_helps(64, 128, 1, 2, 4, torch::kBFloat16)) {
    GTEST_SKIP() << "the GEMM route is off on this machine or LibTorch (it serves bf16 on AMX with LibTorch 1.13)";
  }
  ModelOptions mc;
  mc.width = 16;
  torch::manual_seed(3);
  auto model = build_model(mc, 1, 28);
  to_channels_last(*model);
  const auto x = torch::rand({32, 1, 28, 28}).contiguous(at::MemoryFormat::ChannelsLast);
  auto gradients = [&](bool gemm) {
    set_gemm_conv_backward(gemm);
    model->zero_grad();
    {
      AutocastGuard autocast(Precision::kBf16);
      model->forward(x).z.to(torch::kFloat).pow(2).sum().backward();
    }
    std::map<std::string, torch::Tensor> out;
    for (const auto& p : model->named_parameters()) out[p.key()] = p.value().grad().clone();
    return out;
  };
  const auto on = gradients(true), off = gradients(false);
  set_gemm_conv_backward(true);
  for (const auto& [name, g] : off) {
    EXPECT_LT(rel_diff(on.at(name), g), 2e-2) << name;
  }
}

}  // namespace
}  // namespace simclr::models

// The backward pass of each convolution shape in ResNet-18 (CIFAR stem),
// LibTorch's own (oneDNN) against models/conv2d.h's GEMM route, in bf16 and
// channels-last as training runs them: milliseconds per backward pass, the
// relative difference of the two weight gradients, and which route
// models::gemm_route_helps() picks. The measurement behind that rule.
//
//   build/bench/simclr_conv_backward --width 32 --side 28 --batch 512
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <vector>

#include "simclr/core/threads.h"
#include "simclr/models/conv2d.h"

namespace {

// Mean milliseconds of f() over `reps` calls after one untimed call.
template <class F>
double time_ms(F&& f, int reps) {
  f();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace simclr;
  CLI::App app{"ResNet-18 convolution backward: oneDNN against the GEMM route"};
  int64_t width = 32, side = 28, batch = 512;
  int reps = 5;
  app.add_option("--width", width)->capture_default_str();
  app.add_option("--side", side, "input side (CIFAR stem)")->capture_default_str();
  app.add_option("--batch", batch, "images (2 x the pairs)")->capture_default_str();
  app.add_option("--reps", reps)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  configure_torch_threads(0);
  torch::manual_seed(0);

  struct Shape {
    int64_t in, out, side, stride, k;
  };
  std::vector<Shape> shapes;
  int64_t s = side;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = width << stage, in = stage == 0 ? width : planes / 2, stride = stage == 0 ? 1 : 2;
    if (stride == 2) {
      shapes.push_back({in, planes, s, 2, 3});
      shapes.push_back({in, planes, s, 2, 1});
      s = (s - 1) / 2 + 1;
    }
    shapes.push_back({planes, planes, s, 1, 3});
  }
  double total_onednn = 0, total_chosen = 0;
  std::printf("%-22s %10s %10s %8s %10s %s\n", "layer", "oneDNN ms", "GEMM ms", "speedup", "rel diff", "chosen");
  for (const auto& sh : shapes) {
    const auto cl = at::MemoryFormat::ChannelsLast;
    const auto x = torch::randn({batch, sh.in, sh.side, sh.side}).to(torch::kBFloat16).contiguous(cl).requires_grad_();
    const auto w = torch::randn({sh.out, sh.in, sh.k, sh.k}).to(torch::kBFloat16).contiguous(cl).requires_grad_();
    const int64_t pad = sh.k / 2;
    const auto y = torch::conv2d(x, w, {}, sh.stride, pad);
    const auto g = torch::randn_like(y).contiguous(cl);
    auto grads = [&](bool gemm) {
      const auto out = gemm ? models::conv2d_gemm_backward(x, w, sh.stride, pad) : torch::conv2d(x, w, {}, sh.stride, pad);
      return torch::autograd::grad({out}, {x, w}, {g});
    };
    const auto ref = grads(false), mine = grads(true);
    const double diff = std::max((mine[0].to(torch::kFloat) - ref[0].to(torch::kFloat)).norm().item<double>() /
                                     ref[0].to(torch::kFloat).norm().item<double>(),
                                 (mine[1].to(torch::kFloat) - ref[1].to(torch::kFloat)).norm().item<double>() /
                                     ref[1].to(torch::kFloat).norm().item<double>());
    const double onednn = time_ms([&] { grads(false); }, reps), gemm = time_ms([&] { grads(true); }, reps);
    const int64_t out_side = (sh.side + 2 * pad - sh.k) / sh.stride + 1;
    const bool chosen = models::gemm_route_helps(sh.in, sh.out, sh.k, sh.stride, out_side, torch::kBFloat16);
    total_onednn += onednn;
    total_chosen += chosen ? gemm : onednn;
    const auto name = fmt::format("{}->{} {}px k{} s{}", sh.in, sh.out, sh.side, sh.k, sh.stride);
    std::printf("%-22s %10.2f %10.2f %7.2fx %10.1e %s\n", name.c_str(), onednn, gemm, onednn / gemm, diff,
                chosen ? "GEMM" : "oneDNN");
  }
  std::printf("one of each layer: oneDNN %.1f ms, as chosen %.1f ms (%.2fx)\n", total_onednn, total_chosen,
              total_onednn / total_chosen);
}

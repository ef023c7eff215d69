#include "simclr/models/conv2d.h"

#include <atomic>
#include <vector>

#include "simclr/core/error.h"
#include "simclr/core/precision.h"
#include "simclr/core/torch_compat.h"

namespace simclr::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::atomic<bool> gemm_enabled{true};

// [N, C, H, W] in channels-last memory as the [N, H, W, C] tensor it is in memory.
torch::Tensor nhwc(const torch::Tensor& t) { return t.contiguous(at::MemoryFormat::ChannelsLast).permute({0, 2, 3, 1}); }

// Every s-th pixel of an NHWC tensor from (i, j) on, ho x wo of them.
torch::Tensor strided_pixels(const torch::Tensor& t, int64_t i, int64_t j, int64_t s, int64_t ho, int64_t wo) {
  return t.slice(1, i, i + s * (ho - 1) + 1, s).slice(2, j, j + s * (wo - 1) + 1, s);
}

// grad_weight [O, C, k, k] from the input x [N, C, H, W] and the output's
// gradient g [N, O, Ho, Wo]: the k*k shifted slices of the padded input side
// by side (im2col, [N*Ho*Wo, k*k*C]), then g^T @ cols.
torch::Tensor weight_grad_gemm(const torch::Tensor& x, const torch::Tensor& g, int64_t k, int64_t s, int64_t p) {
  const int64_t n = x.size(0), c = x.size(1), o = g.size(1), ho = g.size(2), wo = g.size(3);
  auto xl = nhwc(x);
  if (p > 0) xl = at::constant_pad_nd(xl, {0, 0, p, p, p, p});
  torch::Tensor cols;
  if (k == 1) {
    cols = strided_pixels(xl, 0, 0, s, ho, wo).reshape({n * ho * wo, c});
  } else {
    std::vector<torch::Tensor> shifted;
    shifted.reserve(k * k);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) shifted.push_back(strided_pixels(xl, i, j, s, ho, wo));
    cols = torch::stack(shifted, 3).view({n * ho * wo, k * k * c});
  }
  const auto gm = nhwc(g).reshape({n * ho * wo, o});
  // [O, k, k, C] in memory is the [O, C, k, k] weight in channels-last memory.
  return torch::mm(gm.t(), cols).view({o, k, k, c}).permute({0, 3, 1, 2});
}

// grad_input of a 1x1, stride-s, unpadded convolution: g @ W on every s-th
// pixel, zero between them.
torch::Tensor input_grad_1x1(const torch::Tensor& g, const torch::Tensor& w, int64_t s, at::IntArrayRef input_sizes) {
  const int64_t n = g.size(0), o = g.size(1), ho = g.size(2), wo = g.size(3), c = w.size(1);
  const auto gm = nhwc(g).reshape({n * ho * wo, o});
  const auto gi = torch::mm(gm, w.reshape({o, c})).view({n, ho, wo, c});
  if (s == 1) return gi.permute({0, 3, 1, 2});
  auto dx = torch::zeros({n, input_sizes[2], input_sizes[3], c}, gi.options());
  strided_pixels(dx, 0, 0, s, ho, wo).copy_(gi);
  return dx.permute({0, 3, 1, 2});
}

struct GemmBackwardConv : public torch::autograd::Function<GemmBackwardConv> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w, int64_t stride,
                               int64_t padding) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    return at::convolution(x, w, {}, {stride, stride}, {padding, padding}, {1, 1}, false, {0, 0}, 1);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    const int64_t s = ctx->saved_data["stride"].toInt(), p = ctx->saved_data["padding"].toInt(), k = w.size(2);
    const auto g = grads[0].contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor grad_x, grad_w;
    if (ctx->needs_input_grad(0)) {
      if (k == 1 && p == 0) {
        grad_x = input_grad_1x1(g, w, s, x.sizes());
      } else {
        grad_x = std::get<0>(at::convolution_backward(g, x, w, c10::nullopt, {s, s}, {p, p}, {1, 1}, false, {0, 0}, 1,
                                                      {true, false, false}));
      }
    }
    if (ctx->needs_input_grad(1)) grad_w = weight_grad_gemm(x, g, k, s, p);
    return {grad_x, grad_w, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

void set_gemm_conv_backward(bool enabled) { gemm_enabled = enabled; }
bool gemm_conv_backward_enabled() { return gemm_enabled; }

bool gemm_route_helps(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t out_side,
                      c10::ScalarType dtype) {
  if (!compat::kOneDnnSlowConvBackward || dtype != at::kBFloat16 || !cpu_has_amx_bf16()) return false;
  (void)out_channels;
  // Measured per layer by build/bench/simclr_conv_backward at widths 16, 32
  // and 64 (docs/results.md). The im2col matrix is k*k times the input, so
  // oneDNN's kernels win on the larger maps and the narrower layers; a
  // strided 1x1 needs no copy beyond its every-other-pixel input.
  if (kernel == 1) return stride == 2;
  if (kernel == 3 && stride == 2) return out_side <= 8 && in_channels >= 64;
  if (kernel == 3 && stride == 1) return out_side <= 4;
  return false;
}

torch::Tensor conv2d_gemm_backward(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride,
                                   int64_t padding) {
  SIMCLR_CHECK(x.dim() == 4 && weight.dim() == 4 && weight.size(2) == weight.size(3) && x.size(1) == weight.size(1),
               "conv2d: input {} and weight {} do not fit", c10::str(x.sizes()),
               c10::str(weight.sizes()));
  SIMCLR_CHECK(x.scalar_type() == weight.scalar_type(), "conv2d: input ({}) and weight ({}) differ in dtype",
               c10::toString(x.scalar_type()), c10::toString(weight.scalar_type()));
  return GemmBackwardConv::apply(x, weight, stride, padding);
}

bool onednn_backward_unsafe(const torch::Tensor& x, int64_t kernel, int64_t stride, c10::ScalarType dtype) {
  return x.is_cpu() && x.dim() == 4 && kernel == 1 && stride > 1 && x.size(0) % 2 == 1 && dtype == at::kFloat &&
         x.is_contiguous(at::MemoryFormat::ChannelsLast);
}

torch::Tensor conv2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t padding) {
  if (torch::GradMode::is_enabled() && weight.requires_grad() && x.dim() == 4 &&
      !compat::autocast_enabled(c10::DeviceType::CPU) && x.scalar_type() == weight.scalar_type() &&
      onednn_backward_unsafe(x, weight.size(2), stride, x.scalar_type())) {
    return conv2d_gemm_backward(x, weight, stride, padding);
  }
  if (gemm_enabled && torch::GradMode::is_enabled() && weight.requires_grad() && x.is_cpu() && x.dim() == 4) {
    const bool autocast = compat::autocast_enabled(c10::DeviceType::CPU);
    const auto dtype = autocast ? compat::autocast_dtype(c10::DeviceType::CPU) : x.scalar_type();
    const int64_t k = weight.size(2), out_side = (x.size(2) + 2 * padding - k) / stride + 1;
    if (gemm_route_helps(weight.size(1), weight.size(0), k, stride, out_side, dtype)) {
      return conv2d_gemm_backward(x.to(dtype), weight.to(dtype), stride, padding);
    }
  }
  return torch::conv2d(x, weight, {}, stride, padding);
}

}  // namespace simclr::models

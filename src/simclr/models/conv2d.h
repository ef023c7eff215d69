// The ResNets' convolution in training, with a second route for its backward
// pass on the layers where LibTorch's own is slow.
//
// Why: in Debian's LibTorch 1.13 (oneDNN 2.6) a bf16 channels-last
// convolution's forward runs on oneDNN's brgemm AMX kernels, but its
// backward-weights (and a strided 1x1's backward-data) on older kernels that
// take 2-8x the forward's time on small maps: on ResNet-18 w32 at 28 px,
// layer3 and layer4 and the strided 1x1 shortcuts (docs/results.md, "Where a
// small model's step goes"). There the same gradients are one bf16 GEMM:
//   grad_weight[o, c, i, j] = sum over (n, y, x) of g[n, y, x, o] * xpad[n, s*y + i, s*x + j, c]
// with the k*k shifted slices of the channels-last input side by side as the
// im2col matrix, and a 1x1 stride-s convolution's grad_input is g @ W placed
// on every s-th pixel. The GEMM runs on brgemm AMX.
//
// The route is chosen from the layer's shape alone (never by timing), so a
// run's arithmetic does not depend on the machine's load.
#pragma once
#include <torch/torch.h>

namespace simclr::models {

// Whether training may take the GEMM route at all (train.conv_backward:
// "auto" = where it helps, "onednn" = never). Process-wide, as LibTorch's own
// backend switches (at::globalContext()) are; the default is "auto".
void set_gemm_conv_backward(bool enabled);
bool gemm_conv_backward_enabled();

// True when the GEMM route computes this convolution's backward pass faster
// than LibTorch's (measured on ResNet-18's layers at widths 16-64, 28-32 px,
// bf16, LibTorch 1.13 with oneDNN 2.6; elsewhere false).
bool gemm_route_helps(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t out_side,
                      c10::ScalarType dtype);

// True where LibTorch's own backward pass writes out of bounds: in Debian's
// LibTorch 1.13 (oneDNN 2.6) on 2 threads, the weight gradient of a strided
// 1x1 convolution in fp32 channels-last with an odd batch and few channels
// (4->8 and 8->16 on 12-14 px maps, measured) corrupts the heap; a pure
// PyTorch script does the same (docs/large-batches.md). Odd batches come from
// micro-batches with the views apart; the GEMM route is exact there, and
// taken whatever train.conv_backward says.
bool onednn_backward_unsafe(const torch::Tensor& x, int64_t kernel, int64_t stride, c10::ScalarType dtype);

// The convolution y = conv(x, weight), no bias, square kernel, padding
// kernel/2 or 0 as given. Takes the GEMM route for the backward pass when it
// is enabled, autograd records, CPU bf16 autocast is on (or x is bf16) and
// gemm_route_helps(), or always where onednn_backward_unsafe(); otherwise it
// is exactly torch::conv2d.
torch::Tensor conv2d(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride, int64_t padding);

// The GEMM route itself, always (for tests and benchmarks): the same
// forward, the backward as described above. x and weight of one dtype.
torch::Tensor conv2d_gemm_backward(const torch::Tensor& x, const torch::Tensor& weight, int64_t stride,
                                   int64_t padding);

}  // namespace simclr::models

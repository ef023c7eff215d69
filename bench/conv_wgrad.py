#!/usr/bin/python3
"""Issue 18, part 2: the weight gradient of ResNet-18's convolutions at small
widths, oneDNN's own backward-weights kernel against nine shifted slices of
the channels-last input and one GEMM.

On a CPU with AMX (oneDNN 2.6.3 in Debian's PyTorch/LibTorch 1.13), a bf16
channels-last convolution's forward runs on brgemm AMX kernels, but its
backward-weights runs on the older jit AMX kernel, which is 2-5x slower than
the forward on the deep layers (7x7 and 4x4 pixels at batch 512), while a
bf16 GEMM runs on brgemm AMX at 1.1-1.8 TFLOP/s. For those layers the weight
gradient as im2col-by-slices + mm is faster; for the 28x28 and 14x14 layers
oneDNN's kernel is much faster. Each row checks the two against each other
(relative difference of the fp32 results) and times both, 2 threads.

  /usr/bin/python3 bench/conv_wgrad.py
"""
import time

import torch

N = 512  # 2 x 256 views


def t(f, reps=5):
    """Mean milliseconds of f() over reps calls, after one untimed call."""
    f()
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return 1e3 * (time.perf_counter() - t0) / reps


def wgrad_mm(x, g, k, s):
    """The weight gradient of a k x k, stride-s, padding k//2 convolution from its channels-last input x
    (N,C,H,W; memory N,H,W,C) and output gradient g (N,O,Ho,Wo): the k*k shifted slices of the padded
    input side by side as the im2col matrix, then one GEMM."""
    n, c, h, w = x.shape; o, ho, wo = g.shape[1], g.shape[2], g.shape[3]
    xl = x.permute(0, 2, 3, 1)  # N,H,W,C view, contiguous
    p = k // 2
    if p: xl = torch.nn.functional.pad(xl, (0, 0, p, p, p, p))
    cols = torch.stack([xl[:, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s, :] for i in range(k) for j in range(k)], 3)
    cols = cols.reshape(n * ho * wo, k * k * c)
    gl = g.permute(0, 2, 3, 1).reshape(n * ho * wo, o)
    return torch.mm(gl.t(), cols).view(o, k, k, c).permute(0, 3, 1, 2)


def main():
    torch.set_num_threads(2)
    for w in (16, 32):
        shapes = [(w, w, 28, 1, 3), (w, 2*w, 28, 2, 3), (w, 2*w, 28, 2, 1), (2*w, 2*w, 14, 1, 3), (2*w, 4*w, 14, 2, 3), (4*w, 4*w, 7, 1, 3), (4*w, 8*w, 7, 2, 3), (8*w, 8*w, 4, 1, 3)]
        for cin, cout, side, stride, k in shapes:
            x = torch.randn(N, cin, side, side, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
            wt = torch.randn(cout, cin, k, k, dtype=torch.bfloat16).contiguous(memory_format=torch.channels_last)
            y = torch.conv2d(x, wt, None, stride, k // 2); g = torch.randn_like(y)
            args = (g, x, wt, None, [stride]*2, [k//2]*2, [1,1], False, [0,0], 1)
            ref = torch.ops.aten.convolution_backward(*args, [False, True, False])[1]
            mine = wgrad_mm(x, g, k, stride)
            err = ((mine.float() - ref.float()).norm() / ref.float().norm()).item()
            bw = t(lambda: torch.ops.aten.convolution_backward(*args, [False, True, False]))
            mm = t(lambda: wgrad_mm(x, g, k, stride))
            print(f"w{w} {cin:4d}->{cout:4d} {side}px k{k} s{stride}: oneDNN bwd-weight {bw:6.1f} ms, slices+mm {mm:6.1f} ms ({bw/mm:.2f}x), rel diff {err:.1e}", flush=True)


if __name__ == "__main__":
    main()

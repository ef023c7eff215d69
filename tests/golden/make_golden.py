#!/usr/bin/env python3
"""Writes the golden values the C++ tests compare against.

Run with Debian's interpreter (it has python3-torch and python3-torchvision):
    /usr/bin/python3 tests/golden/make_golden.py
Every reference here is written independently of the C++ code: the plain
textbook formula (NT-Xent with an explicit mask, LARS as in the official
TensorFlow SimCLR code), or torchvision itself (ResNet names, augmentations).
"""
import json
import math
import os

import torch
import torchvision
import torchvision.transforms.functional as TF

OUT = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)


def tolist(t):
    return t.detach().double().flatten().tolist()


def nt_xent_reference(z1, z2, tau):
    """SimCLR eq. (1) written out with an explicit 2N x 2N mask."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    sim = z @ z.t() / tau
    n2 = z.shape[0]
    n = n2 // 2
    total = 0.0
    for i in range(n2):
        j = (i + n) % n2
        mask = torch.ones(n2, dtype=torch.bool)
        mask[i] = False
        total = total - (sim[i, j] - torch.logsumexp(sim[i][mask], dim=0))
    return total / n2


def golden_nt_xent():
    cases = []
    for n, d, tau in [(4, 6, 0.5), (5, 3, 0.1), (1, 4, 0.2), (3, 8, 1.0)]:
        z1 = torch.randn(n, d, dtype=torch.double, requires_grad=True)
        z2 = torch.randn(n, d, dtype=torch.double, requires_grad=True)
        loss = nt_xent_reference(z1, z2, tau)
        loss.backward()
        cases.append({"n": n, "d": d, "tau": tau, "z1": tolist(z1), "z2": tolist(z2),
                      "loss": loss.item(), "grad_z1": tolist(z1.grad), "grad_z2": tolist(z2.grad)})
    return cases


def golden_lars():
    """LARS as in the official SimCLR TF code (lars_optimizer.py):
    weights (not BN/bias) get weight decay and trust ratio eta*||w||/||g||;
    v = m v + lr * trust * g; w -= v."""
    momentum, wd, eta = 0.9, 1e-4, 0.001
    shapes = {"conv.weight": [3, 2, 2, 2], "fc.weight": [4, 5], "fc.bias": [4], "bn.weight": [3], "bn.bias": [3]}
    params = {k: torch.randn(*s, dtype=torch.double) for k, s in shapes.items()}
    init = {k: tolist(v) for k, v in params.items()}
    v = {k: torch.zeros_like(p) for k, p in params.items()}
    lrs = [0.5, 1.2, 0.3]
    grads = []
    for lr in lrs:
        g_step = {k: torch.randn_like(p) for k, p in params.items()}
        grads.append({k: tolist(g) for k, g in g_step.items()})
        for k, p in params.items():
            g = g_step[k].clone()
            excluded = p.dim() <= 1
            if not excluded:
                g = g + wd * p
                wn, gn = p.norm(), g.norm()
                trust = eta * wn / gn if (wn > 0 and gn > 0) else 1.0
            else:
                trust = 1.0
            v[k] = momentum * v[k] + lr * trust * g
            params[k] = p - v[k]
    return {"momentum": momentum, "weight_decay": wd, "eta": eta, "lrs": lrs, "shapes": shapes,
            "init": init, "grads": grads, "final": {k: tolist(p) for k, p in params.items()}}


def golden_schedule():
    """learning_rate_schedule() of the official SimCLR code (run.py)."""
    out = []
    for total, warmup, peak in [(100, 10, 1.2), (50, 0, 0.3), (1000, 100, 4.8)]:
        for step in sorted(set([0, 1, warmup // 2, max(warmup - 1, 0), warmup, warmup + 1, (total + warmup) // 2,
                                total - 1, total])):
            lr = step / warmup * peak if warmup and step < warmup else None
            if lr is None:
                decay_steps = total - warmup
                s = min(step - warmup, decay_steps)
                lr = peak * 0.5 * (1 + math.cos(math.pi * s / decay_steps))
            out.append({"step": step, "total": total, "warmup": warmup, "peak": peak, "lr": lr})
    return out


def golden_resnet():
    out = {}
    for name, ctor in [("resnet18", torchvision.models.resnet18), ("resnet34", torchvision.models.resnet34),
                       ("resnet50", torchvision.models.resnet50)]:
        m = ctor()
        params = [(k, list(p.shape)) for k, p in m.named_parameters() if not k.startswith("fc.")]
        buffers = [(k, list(b.shape)) for k, b in m.named_buffers()]
        out[name] = {"parameters": params, "buffers": buffers,
                     "num_parameters": sum(math.prod(s) for _, s in params),
                     "feature_dim": m.fc.in_features,
                     "conv_flops_224": conv_flops(m, 224)}
    # SimCLR's CIFAR stem: 3x3 stride-1 first convolution, no max-pool.
    with torch.random.fork_rng():  # leaves the values drawn after this unchanged
        m = torchvision.models.resnet18()
        m.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        m.maxpool = torch.nn.Identity()
        out["resnet18"]["cifar_conv_flops_32"] = conv_flops(m, 32)
    return out


def conv_flops(model, side):
    """2 x multiply-adds of every convolution for one image, by forward hooks."""
    total = []

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total.append(2 * k * output.numel())

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, side, side))
    for h in handles:
        h.remove()
    return sum(total)


def golden_augment():
    img = torch.rand(3, 5, 6, dtype=torch.float32)
    grey1 = torch.rand(1, 5, 6, dtype=torch.float32)
    out = {"image": tolist(img), "shape": list(img.shape), "grey": tolist(grey1)}
    out["brightness_1.3"] = tolist(TF.adjust_brightness(img, 1.3))
    out["brightness_0.6"] = tolist(TF.adjust_brightness(img, 0.6))
    out["contrast_1.4"] = tolist(TF.adjust_contrast(img, 1.4))
    out["contrast_0.5"] = tolist(TF.adjust_contrast(img, 0.5))
    out["grey_contrast_1.4"] = tolist(TF.adjust_contrast(grey1, 1.4))
    out["saturation_1.5"] = tolist(TF.adjust_saturation(img, 1.5))
    out["saturation_0.3"] = tolist(TF.adjust_saturation(img, 0.3))
    out["hue_0.1"] = tolist(TF.adjust_hue(img, 0.1))
    out["hue_-0.25"] = tolist(TF.adjust_hue(img, -0.25))
    out["grayscale"] = tolist(TF.rgb_to_grayscale(img, num_output_channels=3))
    out["hflip"] = tolist(TF.hflip(img))
    out["blur_3_0.8"] = tolist(TF.gaussian_blur(img, [3, 3], [0.8, 0.8]))
    out["solarize_0.5"] = tolist(TF.solarize(img, 0.5))
    out["solarize_0.3"] = tolist(TF.solarize(img, 0.3))
    # Rotation on a square image: torchvision's rotate by 90 k degrees
    # (counter-clockwise) equals torch.rot90 on (H, W).
    sq = img[:, :5, :5]
    out["square"] = tolist(sq)
    for k in (1, 2, 3):
        out[f"rotate_{90 * k}"] = tolist(TF.rotate(sq, 90.0 * k))
    # Enlarging crop: rows 1..3, cols 2..5 (3x4) to 6x6, bilinear, half-pixel centres.
    out["crop_resize"] = {"top": 1, "left": 2, "height": 3, "width": 4, "size": 6,
                          "out": tolist(TF.resized_crop(img, 1, 2, 3, 4, [6, 6],
                                                        interpolation=TF.InterpolationMode.BILINEAR,
                                                        antialias=False))}
    out["crop_distribution"] = golden_crop_distribution()
    return out


def golden_crop_distribution():
    # Deciles of the area fraction and log aspect ratio of torchvision's
    # RandomResizedCrop.get_params on a 96x128 image (includes its rejection
    # of crops that do not fit and its centre-crop fallback).
    import numpy as np
    g = torch.Generator().manual_seed(7)
    torch.random.manual_seed(7)
    img = torch.zeros(3, 96, 128)
    scales, log_ratios = [], []
    for _ in range(20000):
        top, left, h, w = torchvision.transforms.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])
        scales.append(h * w / (96 * 128))
        log_ratios.append(math.log(w / h))
    q = [i / 10 for i in range(1, 10)]
    return {"height": 96, "width": 128, "n": 20000,
            "scale_deciles": np.quantile(scales, q).tolist(),
            "log_ratio_deciles": np.quantile(log_ratios, q).tolist(),
            "scale_mean": float(np.mean(scales))}


def main():
    golden = {
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "nt_xent": golden_nt_xent(),
        "lars": golden_lars(),
        "schedule": golden_schedule(),
        "resnet": golden_resnet(),
        "augment": golden_augment(),
    }
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
    print("wrote", os.path.join(OUT, "golden.json"))


if __name__ == "__main__":
    main()

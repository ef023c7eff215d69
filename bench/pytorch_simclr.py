#!/usr/bin/python3
"""The PyTorch peer: SimCLR pretraining written the standard torchvision way,
timed for a number of steps. bench/vs_pytorch.py runs it beside simclr.

Data: torchvision ImageFolder (CIFAR-10 JPEG) or Fashion-MNIST in memory, two
views per image with the SimCLR CIFAR transforms (bench/loader_vs_torchvision.py),
a DataLoader with worker processes. Model: ResNet-18 built from torchvision's
BasicBlock with the CIFAR stem (3x3 stride-1 conv, no max-pool) at a given
width (64 = torchvision's resnet18), the MLP head Linear-BN-ReLU-Linear to 128,
NT-Xent as cross-entropy over the masked similarity matrix, SGD with momentum.

Setups: "default" is what a PyTorch script gets unless told otherwise (fp32,
NCHW); "best" is channels-last with bf16 autocast, the fastest PyTorch setup
on a CPU with bf16 instructions, and on CUDA (--device cuda) also
torch.compile. --arch resnet50 is torchvision's ResNet-50 (ImageNet stem) at
--size pixels, for the GPU comparison of scripts/gpu_check.sh.

Prints one JSON line: pairs per second over the timed steps (wall clock,
waiting for data included), the process's peak RSS and, on CUDA, the peak
GPU memory allocated by tensors.

Training mode (--minutes M, used by bench/time_to_accuracy.py): trains for M
minutes of wall clock, then writes the encoder's features h of the train and
test images (no augmentation, eval mode, fp32) to --features FILE.npz.
--recipe as-written is the script a user writes from the tutorials: SGD
with momentum 0.9 at a constant lr 0.3, temperature 0.5, weight decay 1e-6.
--recipe tuned is LARS (BN and bias excluded from adaptation and decay, as
simclr's optim/lars.h), a linear warm-up then cosine decay over the wall-clock
budget, with the peak lr, temperature, warm-up and weight decay given by
--lr/--tau/--warmup-fraction/--wd (the driver passes simclr's recipe).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loader_vs_torchvision import IdxImages, TwoViews, simclr_cifar_transform  # noqa: E402


class ResNet18(nn.Module):
    def __init__(self, width, in_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, inplanes = [], width
        for i, planes in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            layers.append(nn.Sequential(BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes)))
            inplanes = planes
        self.layers = nn.Sequential(*layers)
        self.dim = inplanes

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(x), 1), 1)


class ResNet50(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        net = torchvision.models.resnet50()
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        net.fc = nn.Identity()
        self.net, self.dim = net, 2048

    def forward(self, x):
        return self.net(x)


class SimCLR(nn.Module):
    def __init__(self, width, in_channels, arch="resnet18"):
        super().__init__()
        self.encoder = ResNet50(in_channels) if arch == "resnet50" else ResNet18(width, in_channels)
        d = self.encoder.dim
        self.head = nn.Sequential(nn.Linear(d, d, bias=False), nn.BatchNorm1d(d), nn.ReLU(), nn.Linear(d, 128))

    def forward(self, x):
        return self.head(self.encoder(x))


class Lars(torch.optim.Optimizer):
    """SimCLR's LARS: weights (dim > 1) get weight decay and the trust ratio
    eta*||w||/||g||; BN parameters and biases neither."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-6, eta=1e-3):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad
                if w.dim() > 1:
                    g = g.add(w, alpha=group["weight_decay"])
                    wn, gn = torch.norm(w), torch.norm(g)
                    trust = torch.where((wn > 0) & (gn > 0), group["eta"] * wn / gn, torch.ones_like(wn))
                    g = g * trust
                state = self.state[w]
                if "v" not in state:
                    state["v"] = torch.zeros_like(w)
                v = state["v"]
                v.mul_(group["momentum"]).add_(g, alpha=group["lr"])
                w.sub_(v)


def warmup_cosine(t, total, warmup, peak):
    if t < warmup:
        return peak * t / warmup
    return peak * (1 + math.cos(math.pi * min(t - warmup, total - warmup) / max(total - warmup, 1e-9))) / 2


@torch.no_grad()
def features(model, dataset, batch, device):
    """h of every image of `dataset` (plain tensors, no augmentation), eval mode, fp32."""
    model.eval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=0)
    hs, ys = [], []
    for x, y in loader:
        hs.append(model.encoder(x.to(device)).float().cpu())
        ys.append(y)
    model.train()
    return torch.cat(hs).numpy(), torch.cat(ys).numpy()


def nt_xent(z1, z2, tau):
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    n = z1.shape[0]
    logits = z @ z.t() / tau
    logits.fill_diagonal_(float("-inf"))
    targets = (torch.arange(2 * n, device=z.device) + n) % (2 * n)
    return F.cross_entropy(logits, targets)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=["cifar10-jpeg", "fashion-mnist"], required=True)
    p.add_argument("--data", required=True, help="CIFAR-10 ImageFolder root (with train/) or the Fashion-MNIST folder")
    p.add_argument("--setup", choices=["default", "best"], help="timing mode (training mode: best)")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--steps", type=int, default=5, help="timed steps")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--arch", choices=["resnet18", "resnet50"], default="resnet18",
                   help="resnet18: CIFAR stem at --width; resnet50: torchvision's")
    p.add_argument("--size", type=int, default=0, help="crop size (default: the images' own, 32 or 28)")
    p.add_argument("--minutes", type=float, default=0, help="training mode: train this long, then write --features")
    p.add_argument("--recipe", choices=["as-written", "tuned"], default="as-written")
    p.add_argument("--lr", type=float, default=0.3, help="tuned: peak lr (as-written: constant 0.3)")
    p.add_argument("--tau", type=float, default=0.5)
    p.add_argument("--warmup-fraction", type=float, default=0.1, help="tuned: warm-up share of the time")
    p.add_argument("--wd", type=float, default=1e-6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", help="training mode: write h of train and test here (.npz)")
    p.add_argument("--profile", type=int, default=0,
                   help="profile mode: this many steps on one synthetic batch, no loader (as simclr_step_profile)")
    a = p.parse_args()
    if a.minutes > 0:
        return train_for(a)
    if a.profile > 0:
        return profile_step(a)
    if a.setup is None:
        p.error("--setup is required for timing (or give --minutes to train)")
    cuda = a.device == "cuda"
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.dataset == "cifar10-jpeg":
        dataset = torchvision.datasets.ImageFolder(os.path.join(a.data, "train"),
                                                   transform=TwoViews(simclr_cifar_transform(a.size or 32)))
        channels = 3
    else:
        dataset = IdxImages(a.data, TwoViews(simclr_cifar_transform(a.size or 28)))
        channels = 1
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch, shuffle=True, drop_last=True,
                                         num_workers=a.workers, persistent_workers=a.workers > 0, pin_memory=cuda)
    model = SimCLR(a.width, channels, a.arch).to(a.device)
    best = a.setup == "best"
    if best:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if best and cuda else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6)
    model.train()
    step, start, losses = 0, None, []
    while step < a.warmup + a.steps:
        for (v1, v2), _ in loader:
            if step == a.warmup:
                start = time.perf_counter()
            x = torch.cat([v1, v2]).to(a.device, non_blocking=cuda)
            if best:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(a.device, dtype=torch.bfloat16, enabled=best):
                z = forward(x)
            loss = nt_xent(z[: v1.shape[0]], z[v1.shape[0]:], 0.5)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())  # also waits for the GPU
            step += 1
            if step == a.warmup + a.steps:
                break
    elapsed = time.perf_counter() - start
    print(json.dumps({"program": f"pytorch-{a.setup}", "pairs_per_s": a.steps * a.batch / elapsed,
                      "steps": a.steps, "seconds": elapsed, "last_loss": losses[-1],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else 0,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "workers": a.workers,
                      "device": a.device, "arch": a.arch, "batch": a.batch}))


def profile_step(a):
    """Where the best setup's training step goes, operator by operator: the
    counterpart of build/bench/simclr_step_profile (one synthetic batch of
    2 x batch views, the same model, bf16 autocast + channels-last, the loss,
    backward and the optimizer step; no loader), self CPU time per operator."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    channels, side = (3, a.size or 32) if a.dataset == "cifar10-jpeg" else (1, a.size or 28)
    model = SimCLR(a.width, channels, a.arch).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6)
    x = torch.rand(2 * a.batch, channels, side, side).contiguous(memory_format=torch.channels_last)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            z = model(x)
        loss = nt_xent(z[: a.batch], z[a.batch:], 0.5)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(a.profile):
            step()
        elapsed = time.perf_counter() - start
    print(f"{a.profile} steps of ResNet-18 w{a.width} + head, 2 x {a.batch} views of {side}x{side}x{channels}, "
          f"bf16 autocast + channels-last, {torch.get_num_threads()} threads: {1e3 * elapsed / a.profile:.0f} ms per step")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))


def train_for(a):
    """Training mode: --minutes of wall clock, then the features."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    plain = torchvision.transforms.ToTensor()
    if a.dataset == "cifar10-jpeg":
        dataset = torchvision.datasets.ImageFolder(os.path.join(a.data, "train"), transform=TwoViews(simclr_cifar_transform(32)))
        probe_sets = [torchvision.datasets.ImageFolder(os.path.join(a.data, s), transform=plain) for s in ("train", "test")]
        channels = 3
    else:
        dataset = IdxImages(a.data, TwoViews(simclr_cifar_transform(28)))
        probe_sets = [IdxImages(a.data, plain, split) for split in ("train", "test")]
        channels = 1
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch, shuffle=True, drop_last=True,
                                         num_workers=a.workers, persistent_workers=a.workers > 0)
    model = SimCLR(a.width, channels).to(memory_format=torch.channels_last)
    tuned = a.recipe == "tuned"
    if tuned:
        opt = Lars(model.parameters(), lr=0.0, weight_decay=a.wd)
        tau = a.tau
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=1e-6)
        tau = 0.5
    budget = a.minutes * 60
    model.train()
    step, losses, start = 0, [], time.perf_counter()
    done = False
    while not done:
        for (v1, v2), _ in loader:
            t = time.perf_counter() - start
            if t >= budget:
                done = True
                break
            if tuned:
                for g in opt.param_groups:
                    g["lr"] = warmup_cosine(t, budget, a.warmup_fraction * budget, a.lr)
            x = torch.cat([v1, v2]).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                z = model(x)
            loss = nt_xent(z[: v1.shape[0]], z[v1.shape[0]:], tau)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
    trained = time.perf_counter() - start
    (htr, ytr), (hte, yte) = (features(model, d, 512, "cpu") for d in probe_sets)
    if a.features:
        import numpy as np
        np.savez(a.features, train_h=htr, train_y=ytr, test_h=hte, test_y=yte)
    print(json.dumps({"program": f"pytorch-{a.recipe}", "steps": step, "seconds": trained,
                      "epochs": step * a.batch / len(dataset), "last_loss": losses[-1] if losses else None,
                      "pairs_per_s": step * a.batch / trained, "lr": a.lr if tuned else 0.3, "tau": tau,
                      "optimizer": "lars" if tuned else "sgd", "torch": torch.__version__, "seed": a.seed}))


if __name__ == "__main__":
    main()

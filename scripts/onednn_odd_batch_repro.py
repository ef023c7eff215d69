#!/usr/bin/python3
"""A pure PyTorch reproduction of the heap corruption models::conv2d avoids.

Debian 12's PyTorch 1.13 (oneDNN 2.6), 2 threads, fp32, channels-last: the
weight gradient of a strided 1x1 convolution with few channels (the 4->8 and
8->16 shortcuts of a ResNet-18 of width 4 on 12 px images) writes past its
buffer when the batch is odd. The process aborts ("corrupted size vs.
prev_size") or segfaults a little later. simclr met it through micro-batches
of one view (11 and 10 images); see models/conv2d.h, onednn_backward_unsafe.

  /usr/bin/python3 scripts/onednn_odd_batch_repro.py 11 5   # dies
  /usr/bin/python3 scripts/onednn_odd_batch_repro.py 10 5   # prints done
"""
import sys

import torch
import torch.nn as nn
from torchvision.models.resnet import BasicBlock

torch.set_num_threads(2)
torch.manual_seed(0)


def layer(i, o, s):
    ds = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o)) if (s != 1 or i != o) else None
    return nn.Sequential(BasicBlock(i, o, s, ds), BasicBlock(o, o))


w = 4
net = nn.Sequential(nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                    layer(w, w, 1), layer(w, 2 * w, 2), layer(2 * w, 4 * w, 2), layer(4 * w, 8 * w, 2),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, 32), nn.ReLU(),
                    nn.Linear(32, 16)).to(memory_format=torch.channels_last)
sizes = [int(s) for s in sys.argv[1].split(",")]
canaries = [torch.full((64,), 7.0) for _ in range(20000)]
for it in range(int(sys.argv[2])):
    for n in sizes:
        x = torch.randn(n, 1, 12, 12).contiguous(memory_format=torch.channels_last)
        net(x).sum().backward()
    bad = sum(int((c != 7.0).any()) for c in canaries)
    if bad:
        print("iteration", it, "corrupted canaries:", bad)
        break
print("done")

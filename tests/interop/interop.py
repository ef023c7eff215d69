#!/usr/bin/python3
"""PyTorch side of the interoperability tests (tests/interop_test.cpp).
Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision).

  interop.py torchvision-weights OUT_DIR
      Saves a torchvision ResNet-18 (seeded random init, BN statistics made
      non-trivial) as a state dict (torch.save) and as TorchScript, plus an
      input batch and the network's h (the pooled features, fc removed) for it.
  interop.py torchvision-vit OUT_DIR
      The same for a small torchvision VisionTransformer (32 px images, 4 px
      patches, 2 layers, width 48, 3 heads, MLP 96): vit_state_dict.pt,
      vit_input.npy and vit_h.npy (the class token after encoder.ln).
  interop.py embed-exported MODULE IDX_IMAGES OUT_NPY
      Loads a module exported by `simclr export` with torch.jit.load, embeds
      the images of an IDX file (as [0,1] floats, NCHW) and writes the
      embeddings as .npy.
  interop.py compare A.npy B.npy
      Prints the largest absolute difference of two .npy arrays, relative to
      the largest absolute value of A (fp32 rounding grows with the values).
"""
import gzip
import json
import os
import sys

import numpy as np
import torch
import torchvision


def torchvision_weights(out):
    torch.manual_seed(3)
    m = torchvision.models.resnet18()
    # Non-default BN statistics and affine terms, so a wrong mapping shows.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    m.eval()
    torch.save(m.state_dict(), os.path.join(out, "resnet18_state_dict.pt"))
    torch.jit.save(torch.jit.script(m), os.path.join(out, "resnet18_scripted.pt"))
    x = torch.rand(3, 3, 64, 64)
    m.fc = torch.nn.Identity()
    with torch.no_grad():
        h = m(x)
    np.save(os.path.join(out, "input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "h.npy"), h.numpy().astype(np.float32))


def torchvision_vit(out):
    from torchvision.models.vision_transformer import VisionTransformer
    torch.manual_seed(4)
    m = VisionTransformer(image_size=32, patch_size=4, num_layers=2, num_heads=3, hidden_dim=48, mlp_dim=96)
    # Non-default layer norms, class token and biases, so a wrong mapping shows.
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("bias") or "ln" in name or name == "class_token":
                p.uniform_(-0.5, 0.5) if not name.endswith("weight") else p.uniform_(0.5, 1.5)
    m.eval()
    torch.save(m.state_dict(), os.path.join(out, "vit_state_dict.pt"))
    x = torch.rand(3, 3, 32, 32)
    m.heads = torch.nn.Identity()
    with torch.no_grad():
        h = m(x)
    np.save(os.path.join(out, "vit_input.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "vit_h.npy"), h.numpy().astype(np.float32))


def read_idx_images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[o:o + 4], "big") for o in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, 1, rows, cols)


def embed_exported(module, idx, out):
    extra = {"simclr.json": ""}
    m = torch.jit.load(module, _extra_files=extra)
    meta = json.loads(extra["simclr.json"])
    images = read_idx_images(idx)
    assert images.shape[2] == meta["input"]["size"], "these tests use images of the exported input size"
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    with torch.no_grad():
        h = m(x)
    np.save(out, h.numpy().astype(np.float32))


def compare(a, b):
    x, y = np.load(a), np.load(b)
    assert x.shape == y.shape, f"shapes differ: {x.shape} vs {y.shape}"
    print(float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "torchvision-weights":
        torchvision_weights(sys.argv[2])
    elif cmd == "torchvision-vit":
        torchvision_vit(sys.argv[2])
    elif cmd == "embed-exported":
        embed_exported(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")

#!/usr/bin/python3
"""Writes the data for the paper's Table 3 probe: can a linear classifier on
frozen features tell an image from a transformed copy of it?

The paper explains why h beats z: the contrastive loss makes z invariant to
the augmentations, so z loses what they change while h keeps it (colour vs
greyscale from h 97.4%, from z 59.6%). Probing h and z of a run for the
transformation measures how far its head has got there (`docs/results.md`,
issue 7). Two probes, one per dataset, each a transformation the dataset's
recipe trains with:

  cifar10 SRC OUT        colour against greyscale (ITU-R 601 luma on 3
                         channels, as the augmentation's greyscale op);
                         SRC is the unpacked CIFAR-10 JPEG root; OUT is an
                         image folder OUT/{train,test}/{colour,grey}/*.png
                         (both as PNG, so they differ in nothing but colour).
  fashion-mnist SRC OUT  original against brightness x 0.6 (the edge of the
                         recipe's jitter range); SRC holds the four IDX
                         files; OUT gets four IDX files with labels 0
                         (original) and 1 (dimmed).

Every source image appears in both classes, so its content cannot give the
answer. Then: bench/transform_probe.sh OUT RUN...
"""
import argparse
import gzip
import os
import sys

import numpy as np
from PIL import Image


def cifar10(src, out, train_n, test_n):
    for split, per_class in (("train", train_n // 10), ("test", test_n // 10)):
        split_dir = os.path.join(src, split)
        if not os.path.isdir(split_dir):
            sys.exit(f"no '{split_dir}': pass the unpacked CIFAR-10 JPEG root")
        for cls in ("colour", "grey"):
            os.makedirs(os.path.join(out, split, cls), exist_ok=True)
        i = 0
        for c in sorted(os.listdir(split_dir)):
            for f in sorted(os.listdir(os.path.join(split_dir, c)))[:per_class]:
                rgb = Image.open(os.path.join(split_dir, c, f)).convert("RGB")
                rgb.save(os.path.join(out, split, "colour", f"{i:05d}.png"))
                rgb.convert("L").convert("RGB").save(os.path.join(out, split, "grey", f"{i:05d}.png"))
                i += 1
        print(f"{split}: {i} images, each in colour and in grey")


def read_idx_images(stem):
    for path, opener in ((stem + ".gz", gzip.open), (stem, open)):
        if os.path.isfile(path):
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"no '{stem}' or '{stem}.gz': pass the folder holding the four Fashion-MNIST IDX files")
    n, rows, cols = (int.from_bytes(data[4 * k:4 * k + 4], "big") for k in (1, 2, 3))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols)


def write_idx(path, array):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, array.ndim]) + dims + array.astype(np.uint8).tobytes())


def fashion_mnist(src, out, train_n, test_n):
    for prefix, n in (("train", train_n), ("t10k", test_n)):
        images = read_idx_images(os.path.join(src, f"{prefix}-images-idx3-ubyte"))[:n]
        os.makedirs(out, exist_ok=True)
        dimmed = np.clip(np.rint(images.astype(np.float32) * 0.6), 0, 255)
        write_idx(os.path.join(out, f"{prefix}-images-idx3-ubyte"), np.concatenate([images, dimmed]))
        write_idx(os.path.join(out, f"{prefix}-labels-idx1-ubyte"), np.repeat(np.array([0, 1]), len(images)))
        print(f"{prefix}: {len(images)} images, each original and dimmed")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", choices=["cifar10", "fashion-mnist"])
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--train", type=int, default=5000, help="source training images (default 5000)")
    p.add_argument("--test", type=int, default=2000, help="source test images (default 2000)")
    a = p.parse_args()
    (cifar10 if a.dataset == "cifar10" else fashion_mnist)(a.source, a.out, a.train, a.test)


if __name__ == "__main__":
    main()

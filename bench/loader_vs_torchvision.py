#!/usr/bin/python3
"""Loader throughput, simclr against torchvision's DataLoader, side by side.

Both sides produce the same thing: batches of two augmented views per image
(random resized crop, flip, colour jitter with p=0.8 in random order, random
greyscale; the CIFAR preset, colour strength 0.5 and no blur, which simclr
picks for images of 64 px or less), decoding included, with the same number
of worker threads/processes on the same cores. Rounds alternate the order of
the two programs so that drift in machine speed cancels; the figure is the
ratio of the median pairs per second.

Needs Debian's python3-torch and python3-torchvision (run with /usr/bin/python3)
and the built bench (cmake --build build). Example:
  /usr/bin/python3 bench/loader_vs_torchvision.py --seconds 20 --rounds 3
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TwoViews:
    def __init__(self, transform):
        self.transform = transform

    def __call__(self, image):
        return self.transform(image), self.transform(image)


def simclr_cifar_transform(size):
    # SimCLR appendix A with the CIFAR strength s = 0.5 (as simclr's preset).
    s = 0.5
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.ToTensor(),
    ])


class IdxImages(torch.utils.data.Dataset):
    """Fashion-MNIST from the Debian package's gzip IDX files, held in memory
    like torchvision.datasets.FashionMNIST, served as PIL 'L' images."""

    def __init__(self, root, transform, split="train"):
        prefix = "train" if split == "train" else "t10k"
        with gzip.open(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz")) as f:
            self.images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")) as f:
            self.labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])


def run_torchvision(dataset, seconds, workers, batch):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=True)
    pairs, batches, checksum, start = 0, 0, 0.0, None
    while True:
        for (v1, v2), _ in loader:
            checksum += float(v1[0, 0, 0, 0] + v2[0, 0, 0, 0])
            batches += 1
            if batches == 1:  # worker start-up is not timed
                start = time.perf_counter()
                continue
            pairs += v1.shape[0]
            if time.perf_counter() - start >= seconds:
                elapsed = time.perf_counter() - start
                return {"loader": "torchvision", "pairs_per_second": pairs / elapsed, "pairs": pairs,
                        "seconds": elapsed, "workers": workers, "batch_size": batch}


def run_simclr(build, dataset_args, seconds, workers, batch):
    cmd = [os.path.join(build, "bench", "simclr_loader_bench"), *dataset_args, "--data.workers", str(workers),
           "--train.batch_size", str(batch), "--seconds", str(seconds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_cifar(path, tar):
    if os.path.isdir(os.path.join(path, "train")):
        return
    print(f"unpacking {tar} to {path}", file=sys.stderr)
    os.makedirs(path, exist_ok=True)
    with tarfile.open(tar) as t:
        t.extractall(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--cifar", default="/tmp/cifar10", help="CIFAR-10 JPEG ImageFolder (train/ and test/)")
    p.add_argument("--cifar-tar", default=os.path.join(REPO, "..", "shared", "datasets", "cifar10-jpeg.tar.gz"))
    p.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--datasets", default="cifar10-jpeg,fashion-mnist")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    torch.set_num_threads(1)  # the main process only receives batches

    results = {"cores": len(os.sched_getaffinity(0)), "workers": a.workers, "batch": a.batch,
               "seconds": a.seconds, "torch": torch.__version__, "torchvision": torchvision.__version__}
    for name in a.datasets.split(","):
        if name == "cifar10-jpeg":
            ensure_cifar(a.cifar, a.cifar_tar)
            tv = torchvision.datasets.ImageFolder(os.path.join(a.cifar, "train"),
                                                  transform=TwoViews(simclr_cifar_transform(32)))
            sc = ["--data.dataset", "imagefolder", "--data.path", a.cifar]
        elif name == "fashion-mnist":
            tv = IdxImages(a.fashion, TwoViews(simclr_cifar_transform(28)))
            sc = ["--data.dataset", "fashion-mnist", "--data.path", a.fashion]
        else:
            sys.exit(f"unknown dataset {name}")
        rounds = []
        for r in range(a.rounds):
            order = ["simclr", "torchvision"] if r % 2 == 0 else ["torchvision", "simclr"]
            got = {}
            for who in order:
                got[who] = (run_simclr(a.build, sc, a.seconds, a.workers, a.batch) if who == "simclr"
                            else run_torchvision(tv, a.seconds, a.workers, a.batch))
            ratio = got["simclr"]["pairs_per_second"] / got["torchvision"]["pairs_per_second"]
            print(f"{name} round {r + 1}: simclr {got['simclr']['pairs_per_second']:.0f} pairs/s, torchvision "
                  f"{got['torchvision']['pairs_per_second']:.0f} pairs/s, ratio {ratio:.2f}", flush=True)
            rounds.append(got)
        med = {who: statistics.median(g[who]["pairs_per_second"] for g in rounds) for who in ("simclr", "torchvision")}
        results[name] = {"simclr_pairs_per_second": med["simclr"], "torchvision_pairs_per_second": med["torchvision"],
                         "ratio": med["simclr"] / med["torchvision"],
                         "round_ratios": [g["simclr"]["pairs_per_second"] / g["torchvision"]["pairs_per_second"]
                                          for g in rounds]}
        print(f"{name}: simclr {med['simclr']:.0f} pairs/s vs torchvision {med['torchvision']:.0f} pairs/s "
              f"(medians of {a.rounds}): {results[name]['ratio']:.2f}x", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

#!/bin/bash
# simclr bench, LibTorch 1.13 (Debian 12, native) and 2.6 (Debian 13 root), alternating.
# Used for docs/results.md, "LibTorch 1.13 and 2.6": simclr bench, alternating the two builds.
cd "$(dirname "$0")/.."  # needs root (scripts/debian13.sh) and CIFAR-10 at /tmp/cifar10, here and in build-debian13/cpu/tmp
args="bench --data /tmp/cifar10 --dataset imagefolder --width 64 --threads 2 --skip-gemm --warmup-steps 2 --timed-steps 10 --json"
for round in 1 2 3; do
  build/simclr $args 2>/dev/null | tail -1 > /tmp/bench-113-$round.json
  scripts/debian13.sh cpu -- "build-debian13/cpu-build/simclr $args 2>/dev/null | tail -1" > /tmp/bench-26-$round.json
done
/usr/bin/python3 - <<'P'
import json
for r in (1, 2, 3):
    a = json.load(open(f"/tmp/bench-113-{r}.json")); b = json.load(open(f"/tmp/bench-26-{r}.json"))
    print(r, a["torch"], round(a["pairs_per_s"], 2), b["torch"], round(b["pairs_per_s"], 2), "ratio 2.6/1.13", round(b["pairs_per_s"] / a["pairs_per_s"], 3), a["precision"], b["precision"], a["peak_rss_mib"], b["peak_rss_mib"])
P

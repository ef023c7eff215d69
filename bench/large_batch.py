#!/usr/bin/python3
"""Memory and speed of large batches: plain, in micro-batches, and the PyTorch peer.

Issue 19: ResNet-18 (width 64 by default) on CIFAR-10 JPEG at batch 256, 1024
and 4096, each as
  simclr          `simclr bench`, the whole batch in one pass
  simclr-micro    `simclr bench --train.micro_batch_size M` (the gradient
                  cache, docs/large-batches.md; M = 256 by default)
  pytorch-best    bench/pytorch_simclr.py --setup best, the whole batch at once
one after the other, each under a memory cap: a program whose process tree's
PSS passes --cap-gib is killed and reported as not fitting, so that the
machine itself never runs out. Peak PSS is sampled every 0.1 s. Prints, per
batch and program, pairs per second and peak memory, and the two ratios the
issue targets: memory of batch 4096 in micro-batches over plain batch 256,
and time per pair of the same over plain batch 256.

  mkdir -p /tmp/cifar10 && tar xzf /work/shared/datasets/cifar10-jpeg.tar.gz -C /tmp/cifar10
  /usr/bin/python3 bench/large_batch.py --json docs/large-batch-memory.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_pytorch import REPO, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["simclr", "simclr-micro", "pytorch-best"]


def command(program, batch, a):
    # One untimed step, then timed ones: fewer at large batches, whose steps are long.
    warmup, timed = (1, 2) if batch >= 1024 else (2, 6)
    if program.startswith("simclr"):
        cmd = [os.path.join(a.build, "simclr"), "bench", "--json", "--skip-gemm", "--data", a.cifar, "--dataset",
               "imagefolder", "--width", str(a.width), "--batch-size", str(batch), "--threads", str(a.threads),
               "--warmup-steps", str(warmup), "--timed-steps", str(timed)]
        if program == "simclr-micro":
            cmd += ["--train.micro_batch_size", str(a.micro)]
        return cmd
    return ["/usr/bin/python3", os.path.join(HERE, "pytorch_simclr.py"), "--dataset", "cifar10-jpeg", "--data",
            a.cifar, "--setup", "best", "--width", str(a.width), "--batch", str(batch), "--threads", str(a.threads),
            "--workers", str(a.workers), "--warmup", str(warmup), "--steps", str(timed)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--cifar", default="/tmp/cifar10")
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batches", default="256,1024,4096")
    p.add_argument("--micro", type=int, default=256, help="simclr-micro's train.micro_batch_size")
    p.add_argument("--programs", default=",".join(PROGRAMS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cap-gib", type=float, default=16, help="kill a program whose memory passes this")
    p.add_argument("--json")
    a = p.parse_args()
    programs = [x for x in a.programs.split(",") if x]
    for x in programs:
        if x not in PROGRAMS:
            sys.exit(f"--programs: unknown '{x}'; choose from {', '.join(PROGRAMS)}")
    results = {"width": a.width, "micro_batch_size": a.micro, "threads": a.threads, "cap_gib": a.cap_gib,
               "cores": len(os.sched_getaffinity(0)), "runs": []}
    for batch in [int(b) for b in a.batches.split(",")]:
        for prog in programs:
            if prog == "simclr-micro" and batch <= a.micro:
                continue  # one micro-batch per view: not what is measured
            res, pss = run(command(prog, batch, a), cap_mib=a.cap_gib * 1024)
            row = {"program": prog, "batch": batch, "peak_pss_mib": pss, "fits": res is not None,
                   "pairs_per_s": res["pairs_per_s"] if res else None}
            results["runs"].append(row)
            if res:
                print(f"batch {batch:5d} {prog:13s} {res['pairs_per_s']:8.1f} pairs/s, peak {pss:7.0f} MiB", flush=True)
            else:
                print(f"batch {batch:5d} {prog:13s} does not fit under {a.cap_gib:g} GiB (killed at {pss:.0f} MiB)",
                      flush=True)

    def find(prog, batch):
        return next((r for r in results["runs"] if r["program"] == prog and r["batch"] == batch and r["fits"]), None)

    base, big = find("simclr", 256), find("simclr-micro", 4096)
    if base and big:
        results["memory_ratio_4096_micro_over_256"] = big["peak_pss_mib"] / base["peak_pss_mib"]
        results["time_per_pair_ratio_4096_micro_over_256"] = base["pairs_per_s"] / big["pairs_per_s"]
        print(f"batch 4096 in micro-batches of {a.micro} against plain batch 256: memory "
              f"{results['memory_ratio_4096_micro_over_256']:.2f}x (target at most 1.5x), time per pair "
              f"{results['time_per_pair_ratio_4096_micro_over_256']:.2f}x (target at most 1.4x)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

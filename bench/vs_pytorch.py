#!/usr/bin/python3
"""Pretraining speed and memory, simclr against the PyTorch peer, side by side.

For each case (data, ResNet-18 width, batch) this runs, in rounds that rotate
their order so that drift in machine speed cancels:
  simclr          `simclr bench` (its defaults: bf16 + channels-last on a CPU
                  with bf16, the loader's thread plan), real data, real loop
  pytorch-default bench/pytorch_simclr.py --setup default (fp32, NCHW)
  pytorch-best    bench/pytorch_simclr.py --setup best (channels-last + bf16
                  autocast)
  pytorch-best-tcmalloc  the same with tcmalloc preloaded (LD_PRELOAD), the
                  allocator simclr links; PyTorch's CPU guide suggests it, but
                  a PyTorch script does not get it unless its user does this
all with the same model, batch, data, augmentations and intra-op threads
(PyTorch's DataLoader gets 2 worker processes). Each program times a number of
steps after untimed warm-up steps; the figures are medians over rounds. Peak
memory is sampled every 0.2 s as the proportional set size (PSS) of the
program's whole process tree, so forked DataLoader workers count once for
what they share. The first round's simclr run also measures the GEMM peaks,
which give the bf16 limit the speed is compared with.

Needs Debian's python3-torch, python3-torchvision and python3-psutil (run with
/usr/bin/python3) and the built CLI (cmake --build build). Example:
  /usr/bin/python3 bench/vs_pytorch.py --rounds 2 --json docs/vs-pytorch.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import psutil

REPO = os.path.dirname(os.path.abspath(os.path.dirname(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))

# name: (dataset, data path, width, warm-up steps, timed steps per program)
CASES = {
    "cifar10-w64": ("cifar10-jpeg", "/tmp/cifar10", 64, {"simclr": (2, 6), "pytorch-best": (2, 6),
                                                         "pytorch-best-tcmalloc": (2, 6), "pytorch-default": (1, 3)}),
    "fashion-w16": ("fashion-mnist", "/usr/share/datasets/fashion-mnist", 16,
                    {"simclr": (5, 30), "pytorch-best": (5, 30), "pytorch-best-tcmalloc": (5, 30),
                     "pytorch-default": (3, 12)}),
    # Issue 18: the throughput lead across widths on one dataset, in one run.
    "fashion-w32": ("fashion-mnist", "/usr/share/datasets/fashion-mnist", 32,
                    {"simclr": (5, 24), "pytorch-best": (5, 24), "pytorch-best-tcmalloc": (5, 24),
                     "pytorch-default": (2, 8)}),
    "fashion-w64": ("fashion-mnist", "/usr/share/datasets/fashion-mnist", 64,
                    {"simclr": (3, 10), "pytorch-best": (3, 10), "pytorch-best-tcmalloc": (3, 10),
                     "pytorch-default": (1, 4)}),
}
DEFAULT_CASES = "cifar10-w64,fashion-w16"
# simclr-onednn: simclr with LibTorch's own convolution backward everywhere
# (--train.conv_backward onednn), to show what the GEMM route adds.
PROGRAMS = ["simclr", "pytorch-best", "pytorch-best-tcmalloc", "pytorch-default", "simclr-onednn"]


def tree_pss_mib(proc):
    total = 0
    for p in [proc] + proc.children(recursive=True):
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"


def run(cmd, env=None, cap_mib=None):
    """Runs cmd, sampling its process tree's PSS; returns (last JSON line of stdout, peak PSS MiB).

    With cap_mib, a tree whose PSS passes the cap is killed (so that the
    machine itself never runs out of memory) and the result is None."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    ps, peak, done, capped = psutil.Process(proc.pid), [0.0], threading.Event(), threading.Event()

    def sample():
        while not done.is_set():
            try:
                peak[0] = max(peak[0], tree_pss_mib(ps))
                if cap_mib and peak[0] > cap_mib:
                    capped.set()
                    for p in ps.children(recursive=True) + [ps]:
                        p.kill()
                    return
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1 if cap_mib else 0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    done.set()
    t.join()
    if capped.is_set():
        return None, peak[0]
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak[0]


def command(program, case, a, gemm):
    dataset, path, width, steps = CASES[case]
    path = a.cifar if dataset == "cifar10-jpeg" else a.fashion
    warmup, timed = steps[program if program in steps else "simclr"]
    if program.startswith("simclr"):
        cmd = [os.path.join(a.build, "simclr"), "bench", "--json", "--data", path, "--dataset",
               "imagefolder" if dataset == "cifar10-jpeg" else "fashion-mnist", "--width", str(width),
               "--batch-size", str(a.batch), "--threads", str(a.threads), "--warmup-steps", str(warmup),
               "--timed-steps", str(timed)]
        if program == "simclr-onednn":
            cmd += ["--train.conv_backward", "onednn"]
        return cmd + ([] if gemm else ["--skip-gemm"])
    return ["/usr/bin/python3", os.path.join(HERE, "pytorch_simclr.py"), "--dataset", dataset, "--data", path,
            "--setup", program.split("-")[1], "--width", str(width), "--batch", str(a.batch), "--threads",
            str(a.threads), "--workers", str(a.workers), "--warmup", str(warmup), "--steps", str(timed)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--cifar", default="/tmp/cifar10", help="CIFAR-10 JPEG ImageFolder (train/ and test/)")
    p.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--cases", default=DEFAULT_CASES, help=f"comma-separated, of {', '.join(CASES)}")
    p.add_argument("--programs", default=",".join(PROGRAMS),
                   help="comma-separated subset; simclr and pytorch-best are always run")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2, help="PyTorch DataLoader worker processes")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    for name in a.programs.split(","):
        if name not in PROGRAMS:
            sys.exit(f"--programs: unknown program '{name}'; the programs are {', '.join(PROGRAMS)}")
    programs = [name for name in PROGRAMS if name in a.programs.split(",") or name in ("simclr", "pytorch-best")]
    for c in a.cases.split(","):
        if c not in CASES:
            sys.exit(f"--cases: unknown case '{c}'; the cases are {', '.join(CASES)}")
    results = {"cores": len(os.sched_getaffinity(0)), "batch": a.batch, "threads": a.threads,
               "pytorch_workers": a.workers, "rounds": a.rounds, "cases": {}}
    for case in a.cases.split(","):
        got = {p: [] for p in programs}
        limit = None
        for r in range(a.rounds):
            order = programs[r % len(programs):] + programs[:r % len(programs)]
            for prog in order:
                env = {"LD_PRELOAD": TCMALLOC} if prog.endswith("tcmalloc") else None
                res, pss = run(command(prog, case, a, gemm=(r == 0 and prog == "simclr")), env)
                res["peak_pss_mib"] = pss
                got[prog].append(res)
                if prog == "simclr" and r == 0:
                    limit = res
                print(f"{case} round {r + 1}: {prog:16s} {res['pairs_per_s']:8.1f} pairs/s, peak {pss:6.0f} MiB",
                      flush=True)
        med = {p: statistics.median(x["pairs_per_s"] for x in got[p]) for p in programs}
        mem = {p: max(x["peak_pss_mib"] for x in got[p]) for p in programs}
        out = {"pairs_per_s": med, "peak_pss_mib": mem,
               "gemm_bf16_gflops": limit["gemm_bf16_gflops"], "gemm_fp32_gflops": limit["gemm_fp32_gflops"],
               "gflop_per_pair": limit["gflop_per_pair"], "limit_pairs_per_s": limit["limit_pairs_per_s"],
               "simclr_fraction_of_limit": med["simclr"] / limit["limit_pairs_per_s"],
               "pytorch_best_fraction_of_limit": med["pytorch-best"] / limit["limit_pairs_per_s"],
               "rounds": got}
        line = f"{case}: simclr {med['simclr']:.1f} pairs/s"
        for p in programs[1:]:
            key = "simclr_over_" + p.replace("pytorch-", "").replace("-", "_")
            out[key] = med["simclr"] / med[p]
            line += f" | {p} {med[p]:.1f} ({out[key]:.2f}x)"
        results["cases"][case] = out
        print(line + f" | simclr at {100 * out['simclr_fraction_of_limit']:.0f}% of the bf16 limit "
              f"{limit['limit_pairs_per_s']:.1f} pairs/s | peak PSS MiB: "
              + ", ".join(f"{p} {mem[p]:.0f}" for p in programs), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Data-parallel scaling on one machine: 2 processes x 1 thread against
1 process x 2 threads, at the same global batch, side by side.

Both run `simclr bench` (real data, real loader, the training loop of
`simclr pretrain`, its default precision); the 2-process run is launched by
torchrun with --no_python, as a user would launch it, so it pays for
everything data parallelism costs: the gradient all-reduce, the gathered
negatives, global batch norm (all on by default) and two loaders. Rounds
rotate the order so that drift in machine speed cancels; figures are medians.
Memory is the peak PSS of each program's whole process tree (both ranks and
torchrun's agent). Bytes per step are what one rank exchanged, from simclr's
own count: the tensors' sizes and what ring algorithms send per rank.

Needs Debian's python3-torch (torchrun) and python3-psutil, and the built CLI:
  /usr/bin/python3 bench/distributed_scaling.py --rounds 3 --json docs/distributed-scaling.json
"""
import argparse
import json
import os
import socket
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vs_pytorch import REPO, run  # noqa: E402

# name: (simclr arguments, warm-up steps, timed steps)
CASES = {
    "fashion-w32": (["--config", os.path.join(REPO, "configs/fashion-mnist-10min.yaml")], 3, 20),
    "cifar10-w64": (["--data", "/tmp/cifar10", "--dataset", "imagefolder", "--width", "64",
                     "--batch-size", "256"], 2, 6),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(program, case, a):
    args, warmup, timed = CASES[case]
    bench = [os.path.join(a.build, "simclr"), "bench", "--json", "--skip-gemm", "--warmup-steps", str(warmup),
             "--timed-steps", str(timed)] + args
    if program == "1x2":
        return bench + ["--threads", "2"]
    # torchrun 1.13 under Python 3.11 crashes on its default --redirects/--tee
    # ("0"); a mapping for a local rank that does not exist avoids it.
    return ["/usr/bin/torchrun", "--nproc_per_node=2", f"--master_port={free_port()}", "--redirects", "9:1",
            "--tee", "9:1", "--no_python"] + bench + ["--threads", "1"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    programs = ["1x2", "2x1"]
    results = {}
    for case in a.cases.split(","):
        runs = {prog: [] for prog in programs}
        for r in range(a.rounds):
            order = programs if r % 2 == 0 else programs[::-1]
            for prog in order:
                out, pss = run(command(prog, case, a))
                runs[prog].append({"pairs_per_s": out["pairs_per_s"], "pss_mib": pss,
                                   "payload_bytes_per_step": out.get("payload_bytes_per_step", 0),
                                   "sent_bytes_per_step": out.get("sent_bytes_per_step", 0),
                                   "intra_op_threads": out["intra_op_threads"], "ranks": out.get("ranks", 1),
                                   "precision": out["precision"], "batch_size": out["batch_size"]})
                print(f"{case} round {r + 1} {prog}: {out['pairs_per_s']:.1f} pairs/s, {pss:.0f} MiB",
                      file=sys.stderr)
        med = {prog: statistics.median(x["pairs_per_s"] for x in runs[prog]) for prog in programs}
        ratios = [b["pairs_per_s"] / a_["pairs_per_s"] for a_, b in zip(runs["1x2"], runs["2x1"])]
        results[case] = {
            "runs": runs,
            "median_pairs_per_s": med,
            "ratio_2x1_over_1x2": med["2x1"] / med["1x2"],
            "ratio_per_round": ratios,
            "peak_pss_mib": {prog: max(x["pss_mib"] for x in runs[prog]) for prog in programs},
            "payload_mb_per_step": runs["2x1"][0]["payload_bytes_per_step"] / 1e6,
            "sent_mb_per_step": runs["2x1"][0]["sent_bytes_per_step"] / 1e6,
        }
        res = results[case]
        print(f"{case}: 1 process x 2 threads {med['1x2']:.1f} pairs/s | 2 processes x 1 thread {med['2x1']:.1f} "
              f"pairs/s | ratio {res['ratio_2x1_over_1x2']:.2f} (rounds "
              f"{', '.join(f'{x:.2f}' for x in ratios)}) | per step and rank: {res['payload_mb_per_step']:.1f} MB "
              f"exchanged, {res['sent_mb_per_step']:.1f} MB sent | peak memory {res['peak_pss_mib']['1x2']:.0f} vs "
              f"{res['peak_pss_mib']['2x1']:.0f} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

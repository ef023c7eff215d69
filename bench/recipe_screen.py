#!/usr/bin/python3
"""The screens behind simclr's recipe table (src/simclr/train/recipe.cpp,
docs/recipes.md).

Each variant is one `simclr pretrain` with a budget in steps (so a screen's
result does not depend on how busy the machine was) and explicit values of
the recipe keys, then `simclr linear-eval` on its h. Variants run two at a
time side by side, each with one thread, which gets more work out of the
2 cores than one run with two threads.

  /usr/bin/python3 bench/recipe_screen.py --dataset fashion-mnist --batch 256 --epochs 4 \\
      --variants "0.3/0.2,0.3/0.1,0.6/0.2,0.15/0.2,0.3/0.3,paper" --json docs/recipes/fm-b256-e4.json

A variant is LR_BASE/TEMPERATURE (LARS, sqrt scaling, 10% warm-up, weight
decay 1e-6, the keys that vary), optionally /WARMUP and /WEIGHT_DECAY after
them, or "paper" (--recipe paper). Prints a line per variant and a table.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = {"fashion-mnist": ("fashion-mnist", "/usr/share/datasets/fashion-mnist", 60000),
        "cifar10-jpeg": ("imagefolder", "/tmp/cifar10", 50000)}


def variant_args(v):
    if v == "paper":
        return ["--train.recipe", "paper"]
    parts = v.split("/")
    names = ["--optim.lr_base", "--temperature", "--optim.lr_warmup_fraction", "--optim.weight_decay"]
    return ["--optim.lr_scaling", "sqrt"] + [x for n, p in zip(names, parts) for x in (n, p)]


def write_json(a, steps, results):
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump({"dataset": a.dataset, "width": a.width, "batch": a.batch, "epochs": a.epochs, "steps": steps,
                   "seed": a.seed, "results": results}, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATA), required=True)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=float, required=True, help="budget in epochs (converted to steps)")
    p.add_argument("--variants", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", type=int, default=2, help="runs side by side, one thread each")
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--work", default="/tmp/screens")
    p.add_argument("--json")
    p.add_argument("--reuse", action="store_true",
                   help="keep the runs a stopped screen finished (run directory and evaluation present)")
    a = p.parse_args()
    fmt_name, path, images = DATA[a.dataset]
    steps = max(1, round(a.epochs * images / a.batch))
    simclr = os.path.join(a.build, "simclr")
    variants = a.variants.split(",")
    tag = f"{a.dataset}-w{a.width}-b{a.batch}-e{a.epochs:g}-s{a.seed}"
    os.makedirs(a.work, exist_ok=True)

    def out_dir(v):
        return os.path.join(a.work, f"{tag}-{v.replace('/', '_')}")

    def start(cmd, log):
        return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)

    common = ["--dataset", fmt_name, "--data", path, "--threads", "1"]
    results = []
    for i in range(0, len(variants), a.parallel):
        group = variants[i:i + a.parallel]
        t0 = time.time()
        procs = []
        done = [v for v in group if a.reuse and os.path.exists(os.path.join(out_dir(v), "checkpoint.pt"))
                and os.path.exists(out_dir(v) + ".eval")]
        for v in [v for v in group if v not in done]:
            out = out_dir(v)
            subprocess.run(["rm", "-rf", out], check=True)
            procs.append(start([simclr, "pretrain", "--out", out, "--steps", str(steps), "--width", str(a.width),
                                "--batch-size", str(a.batch), "--seed", str(a.seed), *common, *variant_args(v)],
                               out + ".log"))
        if any(pr.wait() for pr in procs):
            sys.exit(f"a pretrain run failed; see {a.work}/{tag}-*.log")
        procs = [start([simclr, "linear-eval", "--checkpoint", out_dir(v), "--json", *common], out_dir(v) + ".eval")
                 for v in group if v not in done]
        if any(pr.wait() for pr in procs):
            sys.exit(f"a linear-eval failed; see {a.work}/{tag}-*.eval")
        for v in group:
            with open(out_dir(v) + ".eval") as f:
                ev = json.loads([line for line in f if line.startswith("{")][-1])
            with open(os.path.join(out_dir(v), "metrics.jsonl")) as f:
                last = json.loads(f.read().strip().splitlines()[-1])
            row = {"variant": v, "top1": ev["top1"], "steps": steps, "final_loss": last["loss"],
                   "final_contrastive_top1": last["contrastive_top1"],
                   "pair_minutes": None if v in done else (time.time() - t0) / 60}
            results.append(row)
            print(f"{tag} {v}: linear top-1 {100 * row['top1']:.2f}% (loss {row['final_loss']:.3f})", flush=True)
        if a.json:  # after every group, so a stopped screen keeps what it measured
            write_json(a, steps, results)
    print(f"\n{tag}: {steps} steps of batch {a.batch}")
    print("| variant (lr_base/temperature, sqrt scaling) | linear top-1 |")
    print("| --- | --- |")
    best = max(r["top1"] for r in results)
    for r in results:
        mark = "**" if r["top1"] == best else ""
        print(f"| {r['variant']} | {mark}{100 * r['top1']:.2f}%{mark} |")


if __name__ == "__main__":
    main()

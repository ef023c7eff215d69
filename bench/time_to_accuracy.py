#!/usr/bin/python3
"""Time to accuracy: simclr against the PyTorch peer for the same wall clock.

For each seed, one after the other in this one invocation: `simclr pretrain`
for --minutes (with no options beyond the model, batch, data and seed: its
defaults, i.e. the recipe it chooses; contestant "simclr-paper" adds
--recipe paper), then the PyTorch peer bench/pytorch_simclr.py for the same
minutes, as a user writes it from the tutorials ("peer-as-written") and tuned
("peer-tuned": LARS with warm-up + cosine and the hyper-parameters simclr's
recipe chose for the same run, read from its recipe.json). Every encoder is
then probed the same way: scikit-learn StandardScaler + LogisticRegression on
the frozen h of the training images, scored on the test images (simclr's h
written by `simclr embed` in fp32; the peer's by its own fp32 pass). Nothing
else runs meanwhile: the contestants get the machine one at a time.

  /usr/bin/python3 bench/time_to_accuracy.py --dataset fashion-mnist --minutes 5 --seeds 0,1 \\
      --json docs/time-to-accuracy/fm-w32-5min.json

Prints a line per run and the table (mean over seeds, and each seed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = {"fashion-mnist": "/usr/share/datasets/fashion-mnist", "cifar10-jpeg": "/tmp/cifar10"}
CONTESTANTS = ["simclr", "peer-as-written", "peer-tuned", "simclr-paper"]


def probe(train_h, train_y, test_h, test_y):
    """The one probe every encoder gets: standardised features, multinomial
    logistic regression (scikit-learn's defaults, C = 1, up to 1000 L-BFGS
    iterations), top-1 on the test split."""
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(train_h)
    clf = LogisticRegression(max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the iterations used are recorded instead
        clf.fit(scaler.transform(train_h), train_y)
    top1 = float((clf.predict(scaler.transform(test_h)) == test_y).mean())
    return top1, int(clf.n_iter_.max())


def read_embedding(npy):
    """simclr embed's FILE.npy and its FILE.index.csv (row,source,label)."""
    h = np.load(npy)
    index = npy[:-len(".npy")] + ".index.csv"
    with open(index) as f:
        next(f)  # header; a source path may hold commas, the label is the last field
        labels = np.array([int(line.rsplit(",", 1)[1]) for line in f], dtype=np.int64)
    return h, labels


def run(cmd, log):
    start = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def data_args(a):
    dataset = "fashion-mnist" if a.dataset == "fashion-mnist" else "imagefolder"
    return ["--dataset", dataset, "--data", a.data]


def run_simclr(a, seed, out, extra):
    simclr = os.path.join(a.build, "simclr")
    common = data_args(a) + ["--threads", str(a.threads)]
    run([simclr, "pretrain", "--out", out, "--minutes", str(a.minutes), "--width", str(a.width),
         "--batch-size", str(a.batch), "--seed", str(seed), *common, *extra], os.path.join(out + ".log"))
    split = {}
    for s in ("train", "test"):
        npy = os.path.join(out, f"h-{s}.npy")
        run([simclr, "embed", "--checkpoint", out, "--split", s, "--out", npy, *common], out + f".embed-{s}.log")
        split[s] = read_embedding(npy)
    with open(os.path.join(out, "recipe.json")) as f:
        recipe = json.load(f)
    steps = 0
    with open(os.path.join(out, "metrics.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            steps = max(steps, m["step"])
    return split, {"steps": steps, "recipe": recipe}


def run_peer(a, seed, out, recipe_name, recipe):
    os.makedirs(out, exist_ok=True)
    npz = os.path.join(out, "features.npz")
    cmd = [sys.executable, os.path.join(REPO, "bench", "pytorch_simclr.py"), "--dataset", a.dataset, "--data", a.data,
           "--width", str(a.width), "--batch", str(a.batch), "--threads", str(a.threads), "--workers", "2",
           "--minutes", str(a.minutes), "--recipe", recipe_name, "--seed", str(seed), "--features", npz]
    if recipe_name == "tuned":
        cmd += ["--lr", str(recipe["peak_lr"]), "--tau", str(recipe["temperature"]),
                "--warmup-fraction", str(recipe["lr_warmup_fraction"]), "--wd", str(recipe["weight_decay"])]
    run(cmd, out + ".log")
    with open(out + ".log") as f:
        info = json.loads(f.read().strip().splitlines()[-1])
    d = np.load(npz)
    return {"train": (d["train_h"], d["train_y"]), "test": (d["test_h"], d["test_y"])}, info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATA), required=True)
    p.add_argument("--data", help="default: " + ", ".join(f"{k}: {v}" for k, v in DATA.items()))
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--contestants", default="simclr,peer-as-written,peer-tuned",
                   help="comma-separated, of " + ", ".join(CONTESTANTS) + " (peer-tuned needs simclr first)")
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--work", default="/tmp/tta", help="run directories (removed and made again)")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    a.data = a.data or DATA[a.dataset]
    os.makedirs(a.work, exist_ok=True)
    contestants = a.contestants.split(",")
    for c in contestants:
        if c not in CONTESTANTS:
            sys.exit(f"unknown contestant {c}; known: {', '.join(CONTESTANTS)}")
    if "peer-tuned" in contestants and "simclr" not in contestants:
        sys.exit("peer-tuned takes simclr's recipe: list simclr too")
    tag = f"{a.dataset}-w{a.width}-b{a.batch}-{a.minutes:g}min"
    results = {"dataset": a.dataset, "width": a.width, "batch": a.batch, "minutes": a.minutes, "threads": a.threads,
               "probe": "sklearn StandardScaler + LogisticRegression(max_iter=1000)", "runs": []}
    for seed in [int(s) for s in a.seeds.split(",")]:
        recipe = None
        for c in contestants:
            out = os.path.join(a.work, f"{tag}-{c}-s{seed}")
            subprocess.run(["rm", "-rf", out], check=True)
            if c.startswith("simclr"):
                split, info = run_simclr(a, seed, out, ["--recipe", "paper"] if c == "simclr-paper" else [])
                if c == "simclr":
                    recipe = info["recipe"]
            else:
                split, info = run_peer(a, seed, out, c[len("peer-"):], recipe)
            top1, iterations = probe(*split["train"], *split["test"])
            row = {"contestant": c, "seed": seed, "top1": top1, "probe_iterations": iterations, **info}
            results["runs"].append(row)
            print(f"{tag} seed {seed} {c}: top-1 {100 * top1:.2f}% after {info['steps']} steps", flush=True)
    print(f"\n{tag}, probe: {results['probe']}")
    print("| contestant | linear top-1 (mean) | per seed | steps |")
    print("| --- | --- | --- | --- |")
    summary = {}
    for c in contestants:
        rows = [r for r in results["runs"] if r["contestant"] == c]
        mean = statistics.mean(r["top1"] for r in rows)
        summary[c] = mean
        print(f"| {c} | {100 * mean:.2f}% | " + ", ".join(f"{100 * r['top1']:.2f}" for r in rows) + " | " +
              ", ".join(str(r["steps"]) for r in rows) + " |")
    results["mean_top1"] = summary
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()

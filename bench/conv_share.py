#!/usr/bin/python3
"""How much of a simclr training step is oneDNN convolution time.

Runs `simclr bench` with ONEDNN_VERBOSE=1, which makes oneDNN print the
wall time of every primitive it executes, and splits the step into the
convolutions (forward, backward-data, backward-weights, each at its achieved
GFLOP/s) and everything else (batch norm, ReLU, adds, the head, the loss, the
optimizer, the loader's interference). The verbose printing itself costs a
little, so the step here is slightly slower than without it.

  /usr/bin/python3 bench/conv_share.py -- --data /tmp/cifar10 --dataset imagefolder --width 64
"""
import collections
import json
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    warmup, timed = 1, 3
    cmd = [os.path.join(REPO, "build", "simclr"), "bench", "--skip-gemm", "--json", "--warmup-steps", str(warmup),
           "--timed-steps", str(timed), *args]
    out = subprocess.run(cmd, env={**os.environ, "ONEDNN_VERBOSE": "1"}, capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    bench = json.loads(lines[-1])
    execs = [l.split(",") for l in lines if l.startswith("onednn_verbose,exec")]
    convs = [e for e in execs if e[3] == "convolution"]
    steps = warmup + timed
    per_kind, flops_kind = collections.defaultdict(float), collections.defaultdict(float)
    for e in convs:
        kind, shape, ms = e[5], e[-2], float(e[-1])
        m = re.match(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+).*_iw(\d+)ow(\d+)kw(\d+)", shape)
        mb, ic, oc, ih, oh, kh, iw, ow, kw = map(int, m.groups())
        per_kind[kind] += ms
        flops_kind[kind] += 2.0 * mb * ic * oc * oh * ow * kh * kw
    # The first (warm-up) step also creates primitives; use the timed steps' share.
    step_ms = 1e3 * sum(bench["step_seconds"]) / len(bench["step_seconds"])
    conv_ms = sum(per_kind.values()) / steps
    other_ms = sum(float(e[-1]) for e in execs if e[3] != "convolution") / steps
    result = {"step_ms": step_ms, "conv_ms": conv_ms, "conv_share": conv_ms / step_ms,
              "other_onednn_ms": other_ms, "pairs_per_s": bench["pairs_per_s"],
              "conv_only_pairs_per_s": bench["batch_size"] / (conv_ms / 1e3),
              "by_kind": {k: {"ms_per_step": v / steps, "gflops": flops_kind[k] / (v / 1e3) / 1e9}
                          for k, v in per_kind.items()}}
    for k, v in result["by_kind"].items():
        print(f"{k:18s} {v['ms_per_step']:8.0f} ms/step  {v['gflops']:6.0f} GFLOP/s")
    print(f"step {step_ms:.0f} ms: convolutions {conv_ms:.0f} ms ({100 * result['conv_share']:.0f}%), other oneDNN "
          f"{other_ms:.0f} ms, the rest {step_ms - conv_ms - other_ms:.0f} ms; convolutions alone would allow "
          f"{result['conv_only_pairs_per_s']:.1f} pairs/s (measured {bench['pairs_per_s']:.1f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Loads a TorchScript export with this Python's torch and prints, as JSON,
its output on a fixed input (seeded, so every torch version draws the same
numbers from the same generator): used to check that an export written by one
LibTorch version gives the same h when loaded by another
(docs/results.md, "LibTorch 1.13 and 2.6").

    /usr/bin/python3 bench/export_outputs.py EXPORT.pt [OUT.json]
"""
import json
import sys

import torch

module = torch.jit.load(sys.argv[1], map_location="cpu")
meta = {k: getattr(module, k) for k in ("input_channels", "input_size") if hasattr(module, k)}
c, s = int(meta.get("input_channels", 1)), int(meta.get("input_size", 28))
g = torch.Generator().manual_seed(1234)
x = torch.rand(4, c, s, s, generator=g)
with torch.no_grad():
    h = module(x)
out = {"torch": torch.__version__, "shape": list(h.shape), "h": h.flatten().tolist()}
if len(sys.argv) > 2:
    json.dump(out, open(sys.argv[2], "w"))
if len(sys.argv) > 3:
    other = json.load(open(sys.argv[3]))
    diff = max(abs(a - b) for a, b in zip(out["h"], other["h"]))
    print(json.dumps({"this": out["torch"], "other": other["torch"], "max_abs_diff": diff,
                      "max_abs_h": max(abs(v) for v in out["h"])}))
else:
    print(json.dumps({"torch": out["torch"], "shape": out["shape"], "first": out["h"][:3]}))

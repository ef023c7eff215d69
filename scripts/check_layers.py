#!/usr/bin/python3
"""Fails when a library file includes a header from a layer above its own.

The library's folders are layers (docs/architecture.md). A file may include
headers of its own folder and of lower layers; folders on one level are
peers and do not include each other. Run by CTest (Layers.IncludesPointDown)
and so by CI:

  scripts/check_layers.py [SRC_DIR]     # default: src/simclr next to this script
"""
import os
import re
import sys

# Bottom to top; folders in one tuple are peers.
LAYERS = [
    ("core",),
    ("io",),
    ("distributed",),
    ("data", "augment", "models", "loss", "optim"),
    ("config",),
    ("pipeline", "serialize"),
    ("eval",),
    ("train",),
    ("experiments",),
]
LEVEL = {folder: i for i, layer in enumerate(LAYERS) for folder in layer}
INCLUDE = re.compile(r'^\s*#\s*include\s+"simclr/([a-z_]+)/([^"]+)"')


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "simclr")
    errors, checked = [], 0
    for folder in sorted(os.listdir(src)):
        path = os.path.join(src, folder)
        if not os.path.isdir(path):
            continue
        if folder not in LEVEL:
            errors.append(f"src/simclr/{folder}/: a folder with no layer; add it to LAYERS in scripts/check_layers.py "
                          "and to docs/architecture.md")
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".h", ".cpp")):
                continue
            checked += 1
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m or m.group(1) == folder:
                        continue
                    target = m.group(1)
                    where = f"src/simclr/{folder}/{name}:{number}"
                    if target not in LEVEL:
                        errors.append(f"{where}: includes simclr/{target}/{m.group(2)}, a folder with no layer")
                    elif LEVEL[target] > LEVEL[folder]:
                        errors.append(f"{where}: {folder} (layer {LEVEL[folder]}) includes simclr/{target}/{m.group(2)} "
                                      f"(layer {LEVEL[target]}, above it)")
                    elif LEVEL[target] == LEVEL[folder]:
                        errors.append(f"{where}: {folder} includes simclr/{target}/{m.group(2)}, a peer on its layer")
    for e in errors:
        print(e)
    layers = " < ".join("{" + ", ".join(layer) + "}" if len(layer) > 1 else layer[0] for layer in LAYERS)
    print(f"layers: {layers}")
    print(f"{checked} files checked, {len(errors)} include(s) pointing up or sideways")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The installable library, checked as a user would use it: installs the
# built tree (build/) into a prefix, builds examples/embed_folder against the
# installed CMake package (find_package(simclr), simclr::simclr), and runs it
# on a folder of images with a tiny model, from an export and from a
# checkpoint. Exits non-zero when any step fails. Run by .ci/run after
# scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$BUILD_DIR" --prefix "$work/prefix" >/dev/null
cmake -S examples/embed_folder -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build"
# A model: two steps of a width-4 ResNet-18 on Fashion-MNIST, and its export.
simclr="$work/prefix/bin/simclr"
"$simclr" pretrain --out "$work/run" --steps 2 --batch-size 16 --width 4 --threads 2 --precision fp32 >/dev/null 2>&1
"$simclr" export --checkpoint "$work/run" --out "$work/encoder.pt" >/dev/null 2>&1
# A folder of five 28x28 grey PNGs.
mkdir -p "$work/images"
/usr/bin/python3 - "$work/images" <<'PY'
import sys, numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for i in range(5):
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(f"{sys.argv[1]}/{i}.png")
PY
"$work/build/embed_folder" "$work/encoder.pt" "$work/images" "$work/from_export.npy"
"$work/build/embed_folder" "$work/run" "$work/images" "$work/from_checkpoint.npy"
/usr/bin/python3 - "$work/from_export.npy" "$work/from_checkpoint.npy" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == (5, 32), a.shape  # h of a width-4 ResNet-18: 8 x 4 channels
diff = float(np.abs(a - b).max())
assert diff < 1e-5, diff
print(f"example: embed_folder built against the installed package; export and checkpoint agree ({diff:.1e})")
PY

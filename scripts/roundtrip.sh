#!/usr/bin/env bash
# Export round trip on Fashion-MNIST: simclr exports the encoder of RUN as
# TorchScript and embeds the test split (fp32); Python (Debian's torch) loads
# the export with torch.jit.load, embeds the same images, and the largest
# absolute difference of the two embedding matrices is printed.
#   scripts/roundtrip.sh [RUN]        (default runs/fm10)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/fm10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
build/simclr export --checkpoint "$run" --out "$out/encoder.pt" >&2
build/simclr embed --checkpoint "$run" --split test --precision fp32 --out "$out/simclr.npy" >&2
data=$(build/simclr info "$run" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"])')
/usr/bin/python3 tests/interop/interop.py embed-exported "$out/encoder.pt" "$data/t10k-images-idx3-ubyte.gz" "$out/python.npy"
echo "rows x dim: $(/usr/bin/python3 -c "import numpy; print(numpy.load('$out/python.npy').shape)")"
echo "max |simclr embed - torch.jit.load in Python|: $(/usr/bin/python3 tests/interop/interop.py compare "$out/simclr.npy" "$out/python.npy")"

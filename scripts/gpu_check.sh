#!/usr/bin/env bash
# The GPU check: on any Linux machine with an NVIDIA GPU, builds simclr
# against the LibTorch inside `pip install torch`, runs the CUDA tests, then
# runs `simclr bench` and the PyTorch peer (bench/pytorch_simclr.py, its best
# setup: channels-last, bf16 autocast, torch.compile) side by side on the GPU:
#   ResNet-18 (CIFAR stem, width 64) on CIFAR-10 at batch 512, 32 px
#   ResNet-50 (torchvision's) on CIFAR-10 upscaled to 224 px at batch 256
# and prints pairs per second, peak GPU memory and the ratios (also as
# JSON in build-gpu/gpu_check.json). About 6-8 minutes on one GPU.
#
#   scripts/gpu_check.sh [CIFAR10_ROOT]
#
# What it needs on the machine (nothing is downloaded while it runs):
# - an NVIDIA driver, `nvidia-smi`; a CUDA toolkit is not needed to build
#   (simclr compiles no CUDA code), only its headers, which pip's
#   nvidia-cuda-runtime-cu12 wheel brings with torch;
# - Python 3 with `pip install torch torchvision` (2.7 or newer: earlier
#   wheels use the pre-C++11 string ABI, which the system's OpenCV and
#   yaml-cpp cannot link with), and the nvidia-nccl-cu12 wheel torch brings;
# - cmake, ninja, g++ and the -dev packages of scripts/setup.sh except
#   libtorch-dev (OpenCV, yaml-cpp, CLI11, nlohmann-json, spdlog, fmt, zlib,
#   GoogleTest, Google Benchmark): `apt-get install` them, or bring the
#   .deb files with `apt-get download` on a machine with the network;
# - CIFAR-10 as JPEG files (ImageFolder with train/): unpack
#   ../shared/datasets/cifar10-jpeg.tar.gz and pass its root, or copy it over.
# Set PYTHON to the interpreter that has torch (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
data=${1:-${CIFAR10_ROOT:-/tmp/cifar10}}
build=build-gpu
fail() { echo "gpu_check: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null || fail "no nvidia-smi: this needs a machine with an NVIDIA GPU and its driver"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || fail "nvidia-smi sees no GPU"
[ -d "$data/train" ] || fail "no CIFAR-10 ImageFolder at $data (train/ missing): unpack cifar10-jpeg.tar.gz there or pass its root"

read -r torch_version torch_prefix abi cuda_ok nccl_root < <("$PYTHON" - <<'EOF'
import os, torch
nccl = ""
try:
    import nvidia.nccl
    nccl = list(nvidia.nccl.__path__)[0]
except ImportError:
    pass
print(torch.__version__, torch.utils.cmake_prefix_path, int(torch._C._GLIBCXX_USE_CXX11_ABI),
      int(torch.cuda.is_available()), nccl or "-")
EOF
) || fail "$PYTHON cannot import torch: pip install torch torchvision (or set PYTHON)"
echo "gpu_check: torch $torch_version at $torch_prefix, CUDA visible: $cuda_ok, NCCL wheel: $nccl_root"
[ "$abi" = 1 ] || fail "torch $torch_version uses the pre-C++11 ABI; install torch 2.7 or newer, or a cxx11-ABI LibTorch"
[ "$cuda_ok" = 1 ] || fail "torch $torch_version sees no GPU (a CPU wheel, or a driver too old for its CUDA)"

# NCCL's header comes from the nvidia-nccl wheel when the system has none.
cmake_args=(-DCMAKE_PREFIX_PATH="$torch_prefix" -DSIMCLR_PYTHON="$(command -v "$PYTHON")")
if [ "$nccl_root" != "-" ] && [ -f "$nccl_root/include/nccl.h" ]; then
  cmake_args+=(-DCMAKE_CXX_FLAGS="-isystem $nccl_root/include" -DCMAKE_EXE_LINKER_FLAGS="-L$nccl_root/lib")
fi
start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSIMCLR_SANITIZED_READER_TESTS=OFF "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target simclr_cli simclr_tests
echo "gpu_check: built in $(( $(date +%s) - start )) s"

echo "== CUDA tests"
ctest --test-dir "$build" -R '^Cuda\.' --output-on-failure --timeout 300

json=$build/gpu_check.json
: >"$json.lines"
bench() {  # name, simclr options, peer options
  local name=$1 ours=$2 peer=$3
  echo "== $name"
  "$build/simclr" bench --json --skip-gemm --warmup-steps 5 --timed-steps 20 --data.dataset imagefolder \
    --data.path "$data" --train.device cuda --train.precision bf16 --train.channels_last true --threads 0 $ours |
    tee "$build/simclr-$name.json"
  "$PYTHON" bench/pytorch_simclr.py --dataset cifar10-jpeg --data "$data" --setup best --device cuda \
    --warmup 5 --steps 20 --threads "$(nproc)" --workers "$(( $(nproc) > 8 ? 8 : $(nproc) ))" $peer |
    tail -n 1 | tee "$build/pytorch-$name.json"
  "$PYTHON" - "$name" "$build/simclr-$name.json" "$build/pytorch-$name.json" >>"$json.lines" <<'EOF'
import json, sys
name, ours, peer = sys.argv[1], json.load(open(sys.argv[2])), json.loads(open(sys.argv[3]).read())
print(json.dumps({"case": name, "gpu": ours.get("cuda_device_name"),
                  "simclr_pairs_per_s": ours["pairs_per_s"], "pytorch_pairs_per_s": peer["pairs_per_s"],
                  "speed_ratio": ours["pairs_per_s"] / peer["pairs_per_s"],
                  "simclr_peak_gpu_mib": ours["cuda_peak_allocated_mib"], "pytorch_peak_gpu_mib": peer["peak_gpu_mib"],
                  "memory_ratio": ours["cuda_peak_allocated_mib"] / max(peer["peak_gpu_mib"], 1e-9),
                  "torch": peer["torch"]}))
EOF
}
bench resnet18-cifar10-b512 "--model.arch resnet18 --model.width 64 --model.stem cifar --train.batch_size 512" \
  "--arch resnet18 --width 64 --batch 512"
bench resnet50-224-b256 "--model.arch resnet50 --model.stem imagenet --augment.image_size 224 --train.batch_size 256" \
  "--arch resnet50 --size 224 --batch 256"

"$PYTHON" - "$json.lines" "$json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
json.dump(rows, open(sys.argv[2], "w"), indent=1)
print("\n| case | GPU | simclr pairs/s | PyTorch best pairs/s | ratio | simclr peak MiB | PyTorch peak MiB | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print(f"| {r['case']} | {r['gpu']} | {r['simclr_pairs_per_s']:.0f} | {r['pytorch_pairs_per_s']:.0f} | "
          f"{r['speed_ratio']:.2f}x | {r['simclr_peak_gpu_mib']:.0f} | {r['pytorch_peak_gpu_mib']:.0f} | "
          f"{r['memory_ratio']:.2f}x |")
EOF
echo "gpu_check: done in $(( $(date +%s) - start )) s; table above, JSON in $json"

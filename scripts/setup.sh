#!/usr/bin/env bash
# Installs everything simclr needs from Debian packages, then configures and
# builds it (Release). Safe to run any number of times: apt skips what is
# installed and CMake rebuilds only what changed.
#
#   scripts/setup.sh            # install + build into ./build
#   BUILD_DIR=/tmp/b scripts/setup.sh
#   SIMCLR_TORCH_PACKAGE=libtorch-cuda-dev scripts/setup.sh   # Debian 13's CUDA build
#   SIMCLR_SETUP_INSTALL_ONLY=1 scripts/setup.sh              # install, do not build
set -euo pipefail
cd "$(dirname "$0")/.."

torch_package=${SIMCLR_TORCH_PACKAGE:-libtorch-dev}
python_torch=python3-torch gloo=libgloo-dev
# The CUDA build's Python module and Gloo conflict with the CPU ones.
# Its CMake files look for nvcc (FindCUDA), hence the toolkit; c10d's NCCL
# header includes nccl.h.
cuda_toolkit=""
[ "$torch_package" = libtorch-cuda-dev ] && python_torch=python3-torch-cuda gloo=libgloo-cuda-dev \
  cuda_toolkit="nvidia-cuda-toolkit libnccl-dev"

packages=(
  g++ cmake ninja-build pkg-config
  $torch_package $cuda_toolkit libopenblas0-pthread libopenblas-dev $gloo
  libopencv-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev zlib1g-dev libgoogle-perftools-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
  # Python is used only by tests and benchmarks (golden values, the PyTorch
  # peer); the simclr program itself never needs it.
  $python_torch python3-torchvision python3-sklearn python3-psutil
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -n "${SIMCLR_SETUP_INSTALL_ONLY:-}" ] && exit 0

BUILD_DIR=${BUILD_DIR:-build}
# SIMCLR_CMAKE_ARGS: extra configure options (the Debian 13 part of CI builds
# without the precompiled header: -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON).
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} ${SIMCLR_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

#!/usr/bin/env bash
# Builds and tests simclr against Debian 13's LibTorch 2.6, in a Debian 13
# root filesystem made with debootstrap from the same archive apt uses here.
#
#   scripts/debian13.sh [cpu|cuda] [test|build|shell|-- COMMAND...]
#
#   cpu   libtorch-dev 2.6 (main)                         root: build-debian13/cpu
#   cuda  libtorch-cuda-dev 2.6 with CUDA 12.4, cuDNN and  root: build-debian13/cuda
#         NCCL (contrib, non-free); compiles the CUDA and NCCL paths and runs
#         the suite on the CPU side (the CUDA tests skip without a GPU)
#   test  (default) install what is missing, build, run the whole suite
#   build install and build only; shell: a shell inside; -- COMMAND: run it
#         inside, in the source tree
#
# The root is kept between runs (SIMCLR_DEBIAN13_ROOT overrides where), so a
# second run only rebuilds what changed. The source tree is bind-mounted at
# /simclr inside; the build folder is build-debian13/<variant>-build here. Every
# mount is undone on exit, whatever the exit. Needs root (debootstrap, chroot,
# mount) and the network to the Debian archive on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "debian13.sh needs root (debootstrap, chroot, mount): run it as root" >&2; exit 1; }
  exec sudo -E "$0" "$@"
fi
variant=${1:-cpu}
[ $# -gt 0 ] && shift
action=${1:-test}
[ $# -gt 0 ] && shift
[ "$action" = "--" ] && action=command
case "$variant" in
  cpu) torch_package=libtorch-dev; components="main" ;;
  cuda) torch_package=libtorch-cuda-dev; components="main contrib non-free non-free-firmware" ;;
  *) echo "debian13.sh: unknown variant '$variant'; choose cpu or cuda" >&2; exit 2 ;;
esac
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null

src=$(pwd)
root=${SIMCLR_DEBIAN13_ROOT:-$src/build-debian13/$variant}
mirror=${SIMCLR_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "debian13.sh: making a Debian 13 root in $root from $mirror" >&2
  rm -rf "$root"
  mkdir -p "$root"
  debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -n 20 "$root.debootstrap.log" >&2; echo "debian13.sh: debootstrap failed (log: $root.debootstrap.log)" >&2; exit 1; }
fi
echo "deb $mirror trixie $components" >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# Mounts, undone in reverse order on every exit (error, Ctrl-C, kill).
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bind() {  # bind SOURCE TARGET_IN_ROOT
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  mounted+=("$root$2")
}
mkdir -p "$root/proc" "$root/sys"
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount -t sysfs sys "$root/sys" && mounted+=("$root/sys")
bind /dev /dev
bind /dev/pts /dev/pts
bind /dev/shm /dev/shm
bind "$src" /simclr
mkdir -p "$src/build-debian13/$variant-build"

inside() {  # runs bash -c "$1" inside the root, in the source tree
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}" LANG=C.UTF-8 \
    SIMCLR_TORCH_PACKAGE="$torch_package" BUILD_DIR="build-debian13/$variant-build" SIMCLR_CMAKE_ARGS="${SIMCLR_CMAKE_ARGS:-}" \
    SIMCLR_FAULT_TMPFS="${SIMCLR_FAULT_TMPFS:-}" /bin/bash -c "cd /simclr && $1"
}

# cuDNN is not in Debian: its nvidia-cudnn package downloads it from NVIDIA
# when configured, which this root's network cannot reach (and the project
# installs nothing from outside Debian). So for the cuda variant the
# installer is told to do nothing, and a loader stub stands in for
# libcudnn.so.9: one function per cuDNN symbol that LibTorch imports (taken
# from the import tables of its libraries, the Python module's included),
# each returning an error status. It only lets the CUDA libraries load for
# compiling, linking and the CPU side of the suite; no cuDNN function runs
# without a GPU. scripts/gpu_check.sh, on a GPU
# machine, uses pip's torch, which brings the real cuDNN.
if [ "$variant" = cuda ]; then
  postinst=$root/var/lib/dpkg/info/nvidia-cudnn.postinst
  if [ ! -f "$postinst" ]; then
    inside "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nvidia-cudnn >/dev/null 2>&1" || true
  fi
  if [ -f "$postinst" ] && grep -q update-nvidia-cudnn "$postinst"; then
    printf '#!/bin/sh\n# simclr (scripts/debian13.sh): no download of cuDNN from NVIDIA in this root\nexit 0\n' >"$postinst"
    inside "DEBIAN_FRONTEND=noninteractive dpkg --configure -a >/dev/null"
  fi
  inside "SIMCLR_SETUP_INSTALL_ONLY=1 scripts/setup.sh"
  stub=/usr/local/lib/simclr-cudnn-stub
  if [ ! -f "$root$stub/libcudnn.so.9" ]; then
    mkdir -p "$root$stub"
    {
      echo '/* Generated by scripts/debian13.sh: a loader stub for libcudnn.so.9 (see there). */'
      echo 'const char* cudnnGetErrorString(long status) { (void)status; return "cuDNN is a stub in this root"; }'
      for lib in "$root"/usr/lib/x86_64-linux-gnu/libtorch*.so; do nm -D --undefined-only "$lib"; done |
        awk '{print $2}' | sed 's/@.*//' | grep '^cudnn' | grep -vx cudnnGetErrorString | sort -u |
        sed 's/.*/long &(void) { return 4; \/* CUDNN_STATUS_NOT_INITIALIZED *\/ }/'
    } >"$root$stub/cudnn_stub.c"
    # LibTorch binds the symbols with a version (cudnnCreate@libcudnn.so.9):
    # the stub exports them under the same version node.
    node=$(nm -D --undefined-only "$root/usr/lib/x86_64-linux-gnu/libtorch_cuda.so" | awk '{print $2}' |
      sed -n 's/^cudnn[^@]*@@*//p' | sort -u | head -n1)
    echo "${node:-libcudnn.so.9} { global: *; };" >"$root$stub/cudnn.map"
    inside "gcc -shared -fPIC -O1 -Wl,-soname,libcudnn.so.9 -Wl,--version-script,$stub/cudnn.map -o $stub/libcudnn.so.9 $stub/cudnn_stub.c"
    echo "$stub" >"$root/etc/ld.so.conf.d/simclr-cudnn-stub.conf"
    inside ldconfig
  fi
fi

case "$action" in
  build) inside "scripts/setup.sh" ;;
  test) inside "scripts/test.sh" ;;
  shell) inside "exec bash -i" ;;
  command) inside "$*" ;;
  *) echo "debian13.sh: unknown action '$action'; choose test, build, shell or -- COMMAND" >&2; exit 2 ;;
esac

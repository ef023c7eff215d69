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
[ "$(id -u)" -eq 0 ] || { echo "debian13.sh needs root (debootstrap, chroot, mount): run it with sudo" >&2; exit 1; }
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
    SIMCLR_TORCH_PACKAGE="$torch_package" BUILD_DIR="build-debian13/$variant-build" \
    SIMCLR_FAULT_TMPFS="${SIMCLR_FAULT_TMPFS:-}" /bin/bash -c "cd /simclr && $1"
}

case "$action" in
  build) inside "scripts/setup.sh" ;;
  test) inside "scripts/test.sh" ;;
  shell) inside "exec bash -i" ;;
  command) inside "$*" ;;
  *) echo "debian13.sh: unknown action '$action'; choose test, build, shell or -- COMMAND" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs ablation grids with one process per core (`simclr ablate --shard I/N
# --threads 1`), then once more without a shard to write the finished table,
# and copies the tables into docs/ablations/<dataset>-<grid>.{md,json,png}.
#
#   scripts/ablate.sh grids/cifar10/head.yaml grids/cifar10/loss.yaml
#
# Output directories are runs/ablate-<dataset>-<grid>; rerunning resumes.
# SHARDS (default: the number of cores) sets the processes per grid.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMCLR=${SIMCLR:-build/simclr}
SHARDS=${SHARDS:-$(nproc)}
[ $# -gt 0 ] || { echo "usage: $0 GRID.yaml [GRID.yaml ...]" >&2; exit 2; }
for grid in "$@"; do
  [ -f "$grid" ] || { echo "no grid file '$grid'" >&2; exit 2; }
  name="$(basename "$(dirname "$grid")")-$(basename "$grid" .yaml)"
  out="runs/ablate-$name"
  mkdir -p runs  # the shards' logs go beside their directory
  pids=()
  for ((i = 0; i < SHARDS; i++)); do
    "$SIMCLR" ablate --grid "$grid" --out "$out" --shard "$i/$SHARDS" --threads 1 >"$out.shard$i.log" 2>&1 &
    pids+=($!)
  done
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
  if [ "$status" -ne 0 ]; then
    echo "a shard of $grid failed (exit $status); see $out.shard*.log, then rerun to resume" >&2
    exit "$status"
  fi
  "$SIMCLR" ablate --grid "$grid" --out "$out"
  mkdir -p docs/ablations
  cp "$out/table.md" "docs/ablations/$name.md"
  cp "$out/table.json" "docs/ablations/$name.json"
  if [ -f "$out/heatmap.png" ]; then cp "$out/heatmap.png" "docs/ablations/$name.png"; fi
done

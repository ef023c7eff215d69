#!/usr/bin/env bash
# The paper's Table 3 probe on h and on z of pretrained runs: how well a
# linear classifier on frozen features tells an image from a transformed
# copy (colour vs grey on CIFAR-10, original vs dimmed on Fashion-MNIST),
# i.e. how much of that information the head has discarded.
#
#   /usr/bin/python3 bench/transform_probe_data.py cifar10 /tmp/cifar10 /tmp/probe-cifar10
#   bench/transform_probe.sh /tmp/probe-cifar10 runs/ablate-cifar10-head/runs/nonlinear-seed0 ...
#
# Prints a Markdown table: one row per run, the probe's test top-1 (%) on h
# and on z. A run written "random:CONFIG:WIDTH" probes the untrained
# encoder (nonlinear head) of that config at that width.
set -euo pipefail
cd "$(dirname "$0")/.."
SIMCLR=${SIMCLR:-build/simclr}
[ $# -ge 2 ] || { echo "usage: $0 PROBE_DATA RUN_DIR|random:CONFIG:WIDTH ..." >&2; exit 2; }
data=$1; shift
[ -d "$data" ] || { echo "no probe data '$data': write it with bench/transform_probe_data.py" >&2; exit 2; }
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.log"' EXIT
probe() {  # $1 = layer, rest = what to probe
  local layer=$1; shift
  "$SIMCLR" linear-eval "$@" --data.path "$data" --layer "$layer" --eval.max_iter 100 \
    --eval.weight_decays 0 --train.threads "${THREADS:-1}" --json >"$tmp" 2>"$tmp.log" ||
    { echo "probe of $* at $layer failed:" >&2; tail -n 5 "$tmp.log" >&2; exit 1; }
  awk -F'"top1":' '{ split($2, v, ","); printf "%.2f", 100 * v[1] }' "$tmp"
}
printf '| run | transformation from h | from z |\n| --- | --- | --- |\n'
for run in "$@"; do
  if [[ $run == random:* ]]; then
    IFS=: read -r _ config width <<<"$run"
    src=(--random-init --config "$config" --width "$width" --model.head_layers 2)
  else
    src=(--checkpoint "$run")
  fi
  h=$(probe h "${src[@]}") || exit 1
  z=$(probe z "${src[@]}") || exit 1
  printf '| %s | %s | %s |\n' "$run" "$h" "$z"
done

#!/usr/bin/env bash
# The main job on the built-in default: installs and builds simclr, pretrains
# a ResNet-18 (width 32, CIFAR stem) with SimCLR on Fashion-MNIST from
# /usr/share/datasets/fashion-mnist for a few minutes, then runs the linear
# evaluation and prints the accuracy and where everything is.
#
#   scripts/quickstart.sh                 # 5 minutes of pretraining
#   MINUTES=10 RUN=runs/fm10 scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
MINUTES=${MINUTES:-5}
RUN=${RUN:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}
# Nothing but the model and the budget: the learning rate, warm-up,
# temperature and weight decay are the recipe's for this budget (printed at
# start, saved as recipe.json; docs/recipes.md).
build/simclr pretrain --out "$RUN" --width 32 --minutes "$MINUTES"
build/simclr linear-eval --checkpoint "$RUN"
echo "run directory: $RUN (config.yaml, recipe.json, metrics.jsonl, checkpoint.pt, linear_eval.json)"

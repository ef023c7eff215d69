// `simclr ablate`: a grid of short pretraining runs, each evaluated with the
// linear probe, written up as a table (Markdown and JSON) and, for a grid of
// augmentation pairs, a heatmap like the paper's Figure 5.
//
// A grid file (YAML):
//   name: temperature                          # the table's title
//   config: ../configs/fashion-mnist-10min.yaml  # base config, relative to this file (optional)
//   set: {train.steps: 300, model.width: 16}   # fixed for every cell: the budget and the rest
//   seeds: [0, 1]                              # every cell runs once per seed (train.seed)
//   eval_layers: [h]                           # linear probe on h and/or z, headK
//   axis: loss.temperature                     # one key, one cell per value ...
//   values: [0.05, 0.1, 0.5, 1]
//   cells:                                     # ... and/or cells set by hand
//     - {label: "no l2, tau 0.5", set: {loss.normalize: false}}
//   pairs: [crop, cutout, rotate]              # ... or every ordered pair of augmentations
//                                              # (first, second; one op on the diagonal)
//
// A run whose loss becomes non-finite is recorded as diverged (with its
// step) and the grid goes on. Each (cell, seed) is a run directory under
// <out>/runs; a finished one
// keeps its result in ablation_result.json and is not run again, and an
// interrupted one resumes from its checkpoint, so rerunning the same command
// completes a partly finished grid. The tables are rewritten after every run.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "simclr/config/config.h"
#include "simclr/train/pretrain.h"

namespace simclr::experiments {

struct GridCell {
  std::string label;
  std::vector<std::pair<std::string, std::string>> set;  // config key -> value
  std::string row, column;                               // for pair grids: first and second op
};

struct Grid {
  std::string name, base_config;
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<int64_t> seeds = {0};
  std::vector<std::string> eval_layers = {"h"};
  std::vector<GridCell> cells;
  bool pairs = false;  // a pair grid gets a heatmap
};

// Reads and validates a grid file: every key and value is checked against
// the config (config::set) before anything runs.
Grid load_grid(const std::string& path);

struct CellResult {
  std::string label, layer;
  std::vector<double> top1;  // one per seed, in the grid's seed order; NaN when not run yet
  double mean = 0, std = 0;  // over the seeds that ran and did not diverge
  std::vector<int64_t> diverged;  // per seed: the step where the loss became non-finite, or -1
};

struct AblationResult {
  std::vector<CellResult> rows;
  int runs_done = 0, runs_reused = 0, runs_diverged = 0;
  bool interrupted = false;  // `stop` asked: the run in progress was checkpointed
  std::string markdown_path, json_path, heatmap_path;
};

// Runs what is missing of `grid` into `out` and writes the tables.
AblationResult run_ablation(const Grid& grid, const std::string& out, const train::StopRequest& stop = {});

}  // namespace simclr::experiments

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
// completes a partly finished grid. The tables are rewritten after every run,
// from every result on disk, so several processes can share one grid: each
// takes a shard (runs k with k % shards == shard, k counting cells x seeds)
// and a final run without a shard reuses them all. Two shards on a 2-core
// machine, one thread each, finish a grid about 1.2x sooner than one process
// with both threads (docs/results.md).
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
  std::string protocol = "linear";  // how each run is scored: eval::protocols()
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
  int runs_left = 0;  // not run yet: another shard's, or the grid was interrupted
  bool interrupted = false;  // `stop` asked: the run in progress was checkpointed
  std::string markdown_path, json_path, heatmap_path;
};

struct AblationOptions {
  int shard = 0, shards = 1;  // run only this process's share of the grid
  // LibTorch threads per run (train.threads); -1 keeps the grid's. Like the
  // loader's worker count it changes a run's speed, not what it computes
  // (beyond rounding), so a run made with another thread count is still
  // this cell's result.
  int64_t threads = -1;
};

// Runs what is missing of `grid` into `out` and writes the tables.
AblationResult run_ablation(const Grid& grid, const std::string& out, const train::StopRequest& stop = {},
                            const AblationOptions& options = {});

}  // namespace simclr::experiments

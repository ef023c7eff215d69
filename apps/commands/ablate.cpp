// `simclr ablate`: a grid of short pretraining runs, each probed, into one table.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/experiments/ablation.h"
#include "simclr/io/run_lock.h"

namespace simclr::cli {
namespace {
namespace fs = std::filesystem;

// "I/N" -> shard I of N.
simclr::experiments::AblationOptions parse_shard(const std::string& text, int64_t threads) {
  simclr::experiments::AblationOptions options;
  options.threads = threads;
  if (text.empty()) return options;
  const auto slash = text.find('/');
  try {
    size_t used = 0;
    SIMCLR_CHECK(slash != std::string::npos, "");
    options.shard = std::stoi(text.substr(0, slash), &used);
    SIMCLR_CHECK(used == slash, "");
    options.shards = std::stoi(text.substr(slash + 1), &used);
    SIMCLR_CHECK(used == text.size() - slash - 1, "");
  } catch (const std::exception&) {
    throw simclr::Error(fmt::format("--shard '{}': give I/N, shard I of N counted from 0, e.g. 0/2 and 1/2", text));
  }
  SIMCLR_CHECK(options.shards >= 1 && options.shard >= 0 && options.shard < options.shards,
               "--shard '{}': I must be 0 to N-1, e.g. 0/2 and 1/2", text);
  return options;
}

class AblateCommand : public Command {
 public:
  std::string name() const override { return "ablate"; }
  std::string description() const override {
    return "run a grid of short pretraining runs (one axis, several seeds), probe each, and write a table (and a "
           "heatmap for augmentation pairs); rerun to resume";
  }

  void add_options(CLI::App& app) override {
    app.add_option("--grid", grid_file_, "grid file (YAML; see grids/)")->required()->check(CLI::ExistingFile);
    app.add_option("--out", out_, "output directory (runs/, table.md, table.json, heatmap.png)")->required();
    app.add_option("--shard", shard_,
                   "run only share I of N of the grid (I/N, from 0), e.g. 0/2 and 1/2 as two processes; then run "
                   "without it to finish the table");
    app.add_option("--threads", threads_, "LibTorch threads per run (default: the grid's train.threads)")
        ->check(CLI::Range(int64_t{0}, int64_t{4096}));
    add_json_flag(app, json_);
  }

  int run() override {
    const auto options = parse_shard(shard_, threads_);
    const auto grid = simclr::experiments::load_grid(grid_file_);
    spdlog::info("ablation '{}': {} cells x {} seeds, linear probe on {}", grid.name, grid.cells.size(),
                 grid.seeds.size(), fmt::join(grid.eval_layers, ", "));
    std::error_code ec;
    fs::create_directories(out_, ec);
    SIMCLR_CHECK(fs::is_directory(out_), "cannot create '{}': {}", out_, ec.message());
    // The shards of one grid share the folder (each run has a lock of its
    // own); a shard excludes only a second copy of itself.
    const simclr::io::RunLock lock(
        out_, "simclr ablate --grid " + grid_file_ + (shard_.empty() ? "" : " --shard " + shard_),
        shard_.empty() ? simclr::io::kLockFile
                       : fmt::format("{}.shard-{}-of-{}", simclr::io::kLockFile, options.shard, options.shards));
    const auto r =
        simclr::experiments::run_ablation(grid, out_, [](const auto&) { return simclr::interrupted(); }, options);
    nlohmann::json cells = nlohmann::json::array();
    for (const auto& row : r.rows) cells.push_back({{"label", row.label}, {"layer", row.layer}, {"mean", row.mean},
                                                    {"std", row.std}});
    nlohmann::json result = {{"name", grid.name},           {"runs_done", r.runs_done},
                             {"runs_reused", r.runs_reused}, {"runs_left", r.runs_left},
                             {"table_md", r.markdown_path},
                             {"table_json", r.json_path},    {"heatmap", r.heatmap_path},
                             {"cells", cells}};
    std::ifstream md(r.markdown_path);
    print_result(result, json_, std::string(std::istreambuf_iterator<char>(md), {}));
    if (r.interrupted) {
      spdlog::warn("interrupted; the run in progress is checkpointed. Continue with the same command");
      return simclr::interrupt_signal() ? 128 + simclr::interrupt_signal() : 130;
    }
    if (r.runs_left > 0) {
      spdlog::info("{} runs belong to other shards; when they are done, run without --shard to finish the table",
                   r.runs_left);
    }
    return 0;
  }

 private:
  std::string grid_file_, out_, shard_;
  int64_t threads_ = -1;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_ablate_command() { return std::make_unique<AblateCommand>(); }

}  // namespace simclr::cli

// What several commands of the simclr program share: the config overrides of
// the command line, the evaluation input, the result output and the set-up of
// data-parallel ranks.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "simclr/config/config.h"
#include "simclr/distributed/communicator.h"
#include "simclr/distributed/launch.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::cli {

using simclr::config::Config;

// Every config key becomes `--section.key` (and its alias); values are kept
// in command-line order and applied after the config files.
struct Overrides {
  std::vector<std::pair<std::string, std::string>> values;
  std::string config_file;

  void add_to(CLI::App* app);
  void apply(Config& config) const;
};

// The options several commands have, with one help text each.
CLI::Option* add_json_flag(CLI::App& app, bool& json);
CLI::Option* add_checkpoint_option(CLI::App& app, std::string& checkpoint);

void print_result(const nlohmann::json& result, bool json, const std::string& human);

// The communicator of a data-parallel run when a launcher (torchrun, srun,
// or RANK/WORLD_SIZE by hand) started this process as one of several ranks.
std::shared_ptr<simclr::distributed::Communicator> connect_ranks(const simclr::distributed::LaunchInfo& launch,
                                                                 const Config& config);

// Every rank logs its warnings and errors, tagged; rank 0 alone the progress.
void tag_rank_logs(const simclr::distributed::LaunchInfo& launch);

// The config and checkpoint an evaluation command works on: the checkpoint's
// own config (the model as it was trained) with the command line on top.
struct EvalInput {
  Config config;
  std::unique_ptr<simclr::serialize::CheckpointReader> reader;
  simclr::serialize::CheckpointReader* weights() const { return random_init ? nullptr : reader.get(); }
  bool random_init = false;
  // <run dir>/<name>.json, or <run dir>/<name>_random_init.json
  std::string result_path(const std::string& name) const;
};

EvalInput eval_input(const Overrides& overrides, const std::string& checkpoint, bool random_init);

}  // namespace simclr::cli

#include "cli_common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "simclr/core/error.h"
#include "simclr/io/atomic_file.h"

namespace simclr::cli {
namespace {
namespace fs = std::filesystem;

// Short names of the command-line contract for the most used keys.
const std::map<std::string, std::string> kAliases = {
    {"data.path", "--data"},          {"data.dataset", "--dataset"},       {"model.arch", "--arch"},
    {"model.width", "--width"},       {"train.batch_size", "--batch-size"}, {"train.epochs", "--epochs"},
    {"train.steps", "--steps"},       {"train.minutes", "--minutes"},       {"train.threads", "--threads"},
    {"train.seed", "--seed"},         {"loss.temperature", "--temperature"}, {"train.precision", "--precision"},
    {"eval.knn_k", "--k"},            {"finetune.label_fraction", "--label-fraction"},
    {"eval.feature_layer", "--layer"}, {"train.recipe", "--recipe"},
};
}  // namespace

void Overrides::add_to(CLI::App* app) {
  app->add_option("--config", config_file, "YAML config file (command-line options override it)")
      ->check(CLI::ExistingFile);
  Config defaults;
  for (auto& f : simclr::config::fields(defaults)) {
    std::string names = "--" + f.key;
    if (auto a = kAliases.find(f.key); a != kAliases.end()) names = a->second + "," + names;
    std::string help = f.help + " (default: " + simclr::config::to_string(f) + ")";
    if (!f.choices.empty()) {
      help += " {";
      for (size_t i = 0; i < f.choices.size(); ++i) help += (i ? "," : "") + f.choices[i];
      help += "}";
    }
    const std::string key = f.key;
    app->add_option_function<std::string>(names, [this, key](const std::string& v) { values.emplace_back(key, v); },
                                          help)
        ->group(key.substr(0, key.find('.')));
  }
}

void Overrides::apply(Config& config) const {
  if (!config_file.empty()) {
    simclr::register_input(config_file, "the config file");
    simclr::config::load_yaml_file(config, config_file);
  }
  int budgets = 0;
  for (const auto& [key, value] : values) {
    simclr::config::set(config, key, value);
    budgets += simclr::config::is_budget_key(key);
  }
  SIMCLR_CHECK(budgets <= 1, "give only one of --epochs, --steps and --minutes");
}

CLI::Option* add_json_flag(CLI::App& app, bool& json) {
  return app.add_flag("--json", json, "print the result as one JSON object on stdout");
}

CLI::Option* add_checkpoint_option(CLI::App& app, std::string& checkpoint) {
  return app.add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
}

void print_result(const nlohmann::json& result, bool json, const std::string& human) {
  if (json) std::cout << result.dump() << std::endl;
  else std::cout << human << std::endl;
}

std::shared_ptr<simclr::distributed::Communicator> connect_ranks(const simclr::distributed::LaunchInfo& launch,
                                                                 const Config& config) {
  if (!launch.distributed()) return nullptr;
  spdlog::info("{}", launch.describe());
  simclr::distributed::CommunicatorOptions o;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(config.distributed.timeout_seconds * 1000));
  const bool cuda = config.train.device == "cuda" || (config.train.device == "auto" && torch::cuda::is_available());
  o.backend = config.distributed.backend == "auto" ? (cuda ? "nccl" : "gloo") : config.distributed.backend;
  if (o.backend == "nccl") o.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(launch.local_rank));
  return simclr::distributed::Communicator::connect(launch, o);
}

void tag_rank_logs(const simclr::distributed::LaunchInfo& launch) {
  if (!launch.distributed()) return;
  spdlog::set_pattern(fmt::format("[%H:%M:%S] [rank {}/{}] %^%l%$ %v", launch.rank, launch.world_size));
  if (launch.rank != 0) spdlog::set_level(spdlog::level::warn);
}

std::string EvalInput::result_path(const std::string& name) const {
  if (!reader) return "";
  return (fs::path(reader->path()).parent_path() / (name + (random_init ? "_random_init" : "") + ".json")).string();
}

EvalInput eval_input(const Overrides& overrides, const std::string& checkpoint, bool random_init) {
  EvalInput in;
  in.random_init = random_init;
  const bool init_weights = std::any_of(overrides.values.begin(), overrides.values.end(),
                                        [](const auto& kv) { return kv.first == "model.init_weights"; });
  SIMCLR_CHECK(!checkpoint.empty() || random_init || init_weights,
               "give --checkpoint RUN_DIR (or its checkpoint.pt), --random-init for the untrained baseline, or "
               "--model.init_weights FILE for PyTorch weights");
  if (!checkpoint.empty()) {
    in.reader = std::make_unique<simclr::serialize::CheckpointReader>(checkpoint);
    // What these commands write must never replace what they read.
    simclr::register_input(in.reader->path(), "the checkpoint");
    in.config = in.reader->config();
  }
  overrides.apply(in.config);
  if (!in.config.model.init_weights.empty()) simclr::register_input(in.config.model.init_weights, "the weights file");
  simclr::config::validate(in.config);
  return in;
}

}  // namespace simclr::cli

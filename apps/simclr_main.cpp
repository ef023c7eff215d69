// The simclr command-line program: a thin front end over the simclr library.
// Results go to stdout (one JSON object with --json); logs go to stderr.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "simclr/augment/preview.h"
#include "simclr/config/config.h"
#include "simclr/core/error.h"
#include "simclr/eval/linear_eval.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/checkpoint.h"
#include "simclr/train/pretrain.h"

namespace {
namespace fs = std::filesystem;
using simclr::config::Config;

std::atomic<bool> g_stop{false};
// First Ctrl-C / SIGTERM: finish the step, checkpoint, exit 130. A second one
// gets the default action (immediate exit); the last checkpoint stays valid.
void on_signal(int signal) {
  g_stop = true;
  std::signal(signal, SIG_DFL);
}

// Short names of the command-line contract for the most used keys.
const std::map<std::string, std::string> kAliases = {
    {"data.path", "--data"},          {"data.dataset", "--dataset"},       {"model.arch", "--arch"},
    {"model.width", "--width"},       {"train.batch_size", "--batch-size"}, {"train.epochs", "--epochs"},
    {"train.steps", "--steps"},       {"train.minutes", "--minutes"},       {"train.threads", "--threads"},
    {"train.seed", "--seed"},         {"loss.temperature", "--temperature"}, {"train.precision", "--precision"},
};

// Every config key becomes `--section.key` (and its alias); values are kept
// in command-line order and applied after the config files.
struct Overrides {
  std::vector<std::pair<std::string, std::string>> values;
  std::string config_file;

  void add_to(CLI::App* app) {
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

  void apply(Config& config) const {
    if (!config_file.empty()) simclr::config::load_yaml_file(config, config_file);
    int budgets = 0;
    for (const auto& [key, value] : values) {
      simclr::config::set(config, key, value);
      budgets += key == "train.epochs" || key == "train.steps" || key == "train.minutes";
    }
    SIMCLR_CHECK(budgets <= 1, "give only one of --epochs, --steps and --minutes");
  }
};

void print_result(const nlohmann::json& result, bool json, const std::string& human) {
  if (json) std::cout << result.dump() << std::endl;
  else std::cout << human << std::endl;
}

int run_pretrain(const Overrides& overrides, const std::string& out, bool resume, bool json) {
  Config config;
  if (resume) {
    const auto saved = (fs::path(out) / "config.yaml").string();
    SIMCLR_CHECK(fs::exists(saved), "cannot resume: '{}' has no config.yaml; is it a simclr run directory?", out);
    simclr::config::load_yaml_file(config, saved);
  }
  overrides.apply(config);
  simclr::config::validate(config);
  spdlog::info("resolved config:\n{}", simclr::config::to_yaml(config));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const auto r = simclr::train::pretrain(config, out, resume, [](const auto&) { return g_stop.load(); });
  nlohmann::json result = {{"run_dir", out},
                           {"checkpoint", r.checkpoint},
                           {"step", r.state.step},
                           {"epoch", r.state.epoch},
                           {"loss", r.last_loss},
                           {"pairs_per_s", r.mean_pairs_per_s},
                           {"data_wait_fraction", r.data_wait_fraction},
                           {"elapsed_s", r.state.elapsed_seconds},
                           {"interrupted", r.interrupted}};
  simclr::write_text_atomically((fs::path(out) / "pretrain.json").string(), result.dump(2) + "\n");
  print_result(result, json,
               fmt::format("pretrained {} steps ({:.1f} min, {:.1f} pairs/s, {:.1f}% waiting for data), final loss "
                           "{:.4f}\ncheckpoint: {}\nmetrics:    {}",
                           r.state.step, r.state.elapsed_seconds / 60, r.mean_pairs_per_s,
                           100 * r.data_wait_fraction, r.last_loss, r.checkpoint,
                           (fs::path(out) / "metrics.jsonl").string()));
  if (r.interrupted) {
    spdlog::warn("interrupted at step {}; checkpoint saved. Continue with: simclr pretrain --out {} --resume",
                 r.state.step, out);
    return 130;
  }
  return 0;
}

int run_linear_eval(const Overrides& overrides, const std::string& checkpoint, bool random_init,
                    const std::string& out, bool json) {
  Config config;
  std::unique_ptr<simclr::io::CheckpointReader> reader;
  SIMCLR_CHECK(!checkpoint.empty() || random_init,
               "give --checkpoint RUN_DIR (or its checkpoint.pt), or --random-init for the untrained baseline");
  if (!checkpoint.empty()) {
    reader = std::make_unique<simclr::io::CheckpointReader>(checkpoint);
    config = reader->config();  // the model as it was trained
  }
  overrides.apply(config);
  simclr::config::validate(config);
  const auto r = simclr::eval::linear_eval(config, random_init ? nullptr : reader.get());
  nlohmann::json result = {{"top1", r.probe.top1},
                           {"top5", r.probe.top5},
                           {"weight_decay", r.probe.weight_decay},
                           {"train_top1", r.probe.train_top1},
                           {"train_size", r.train_size},
                           {"test_size", r.test_size},
                           {"feature_dim", r.feature_dim},
                           {"random_init", random_init},
                           {"checkpoint", reader ? reader->path() : ""},
                           {"feature_seconds", r.feature_seconds},
                           {"probe_seconds", r.probe_seconds}};
  std::string out_path = out;
  if (out_path.empty() && reader) {
    out_path = (fs::path(reader->path()).parent_path() /
                (random_init ? "linear_eval_random_init.json" : "linear_eval.json"))
                   .string();
  }
  if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
  print_result(result, json,
               fmt::format("linear eval ({}): top-1 {:.2f}%  top-5 {:.2f}%  (L2 {:g}; {} train / {} test images){}",
                           random_init ? "random init" : "pretrained", 100 * r.probe.top1, 100 * r.probe.top5,
                           r.probe.weight_decay, r.train_size, r.test_size,
                           out_path.empty() ? "" : "\nresult: " + out_path));
  return 0;
}

int run_augment_preview(const Overrides& overrides, const std::string& out, int images, int views, bool json) {
  Config config;
  overrides.apply(config);
  simclr::config::validate(config);
  const auto r = simclr::augment::write_augment_preview(config, out, images, views);
  nlohmann::json result = {{"png", out}, {"images", r.rows}, {"views", r.cols - 1}, {"width", r.width},
                           {"height", r.height}};
  print_result(result, json,
               fmt::format("wrote {} ({} images x {} views, {}x{} px; first column unaugmented)", out, r.rows,
                           r.cols - 1, r.width, r.height));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("simclr"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");

  CLI::App app{"simclr: SimCLR self-supervised pretraining and evaluation of image encoders (C++/LibTorch)"};
  app.set_version_flag("--version", "simclr 0.1.0");
  app.require_subcommand(1);
  bool json = false, resume = false, random_init = false;
  std::string out, checkpoint, result_file;

  Overrides pretrain_overrides, eval_overrides;
  auto* pretrain = app.add_subcommand("pretrain", "SimCLR pretraining of an encoder (writes a run directory)");
  pretrain->add_option("--out", out, "run directory (config.yaml, metrics.jsonl, checkpoint.pt)")->required();
  pretrain->add_flag("--resume", resume, "continue the run in --out from its last checkpoint");
  pretrain->add_flag("--json", json, "print the result as one JSON object on stdout");
  pretrain_overrides.add_to(pretrain);

  auto* linear = app.add_subcommand("linear-eval", "linear evaluation of a frozen encoder (top-1/top-5 on test)");
  linear->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
  linear->add_flag("--random-init", random_init, "evaluate the randomly initialised encoder (baseline)");
  linear->add_option("--out", result_file, "result JSON file (default: next to the checkpoint)");
  linear->add_flag("--json", json, "print the result as one JSON object on stdout");
  eval_overrides.add_to(linear);

  Overrides preview_overrides;
  int preview_images = 8, preview_views = 6;
  std::string preview_out;
  auto* preview = app.add_subcommand("augment-preview", "PNG grid of augmented views, as the model will see them");
  preview->add_option("--out", preview_out, "PNG file to write")->required();
  preview->add_option("--images", preview_images, "rows: the first N images of the training split")
      ->capture_default_str();
  preview->add_option("--views", preview_views, "augmented views per image")->capture_default_str();
  preview->add_flag("--json", json, "print the result as one JSON object on stdout");
  preview_overrides.add_to(preview);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*pretrain) return run_pretrain(pretrain_overrides, out, resume, json);
    if (*linear) return run_linear_eval(eval_overrides, checkpoint, random_init, result_file, json);
    if (*preview) return run_augment_preview(preview_overrides, preview_out, preview_images, preview_views, json);
  } catch (const simclr::Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const c10::Error& e) {
    spdlog::error("internal error in LibTorch: {}", e.what_without_backtrace());
    return 2;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  return 0;
}

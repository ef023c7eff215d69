// `simclr pretrain`: SimCLR pretraining, alone or as one rank of several.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/core/error.h"
#include "simclr/io/atomic_file.h"
#include "simclr/train/pretrain.h"

namespace simclr::cli {
namespace {
namespace fs = std::filesystem;

class PretrainCommand : public Command {
 public:
  std::string name() const override { return "pretrain"; }
  std::string description() const override { return "SimCLR pretraining of an encoder (writes a run directory)"; }

  void add_options(CLI::App& app) override {
    app.add_option("--out", out_, "run directory (config.yaml, metrics.jsonl, checkpoint.pt)")->required();
    app.add_flag("--resume", resume_, "continue the run in --out from its last checkpoint");
    app.add_flag("--resume-previous", previous_,
                 "continue from the checkpoint before the last (checkpoint.previous.pt), when the last is damaged");
    app.add_option("--allow-change", allow_changes_,
                   "with --resume: keys whose new values may change the run's meaning (batch size, lr, loss, "
                   "augmentation, ...), or 'all'; recorded in resumes.jsonl")
        ->delimiter(',');
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const auto launch = simclr::distributed::detect_launch();
    tag_rank_logs(launch);
    const bool resume = resume_ || previous_;
    SIMCLR_CHECK(resume || allow_changes_.empty(), "--allow-change applies to --resume only");
    // A fresh run: the defaults with the command line on top. A resumed one
    // starts from the config in its checkpoint (never from config.yaml, which
    // a user may have edited); pretrain() compares the two before it writes.
    Config config;
    overrides_.apply(config);
    simclr::config::validate(config);
    if (!resume) spdlog::info("resolved config:\n{}", simclr::config::to_yaml(config));

    const auto comm = connect_ranks(launch, config);
    simclr::train::PretrainOptions options;
    options.resume = resume_;
    options.resume_previous = previous_;
    options.allow_changes = allow_changes_;
    options.apply_overrides = [this](Config& c) { overrides_.apply(c); };
    simclr::train::PretrainResult r;
    try {
      r = simclr::train::pretrain(config, out_, options, comm);
    } catch (const std::exception& e) {
      if (!comm) throw;
      // A failed rank exits at once: destroying a process group with collectives
      // still queued waits out their timeouts one by one. Nothing is lost:
      // checkpoints are written atomically and metrics are flushed per line.
      spdlog::error("{}", e.what());
      spdlog::shutdown();
      std::_Exit(1);
    }
    const int stopped_code = r.signal ? 128 + r.signal : 130;
    if (launch.rank != 0) return r.interrupted ? stopped_code : 0;
    if (r.already_complete) {
      nlohmann::json result = {{"run_dir", out_}, {"step", r.state.step}, {"already_complete", true}};
      print_result(result, json_,
                   fmt::format("'{}' is already complete at step {}; nothing changed", out_, r.state.step));
      return 0;
    }
    nlohmann::json result = {{"run_dir", out_},
                             {"checkpoint", r.checkpoint},
                             {"step", r.state.step},
                             {"epoch", r.state.epoch},
                             {"loss", r.last_loss},
                             {"pairs_per_s", r.mean_pairs_per_s},
                             {"data_wait_fraction", r.data_wait_fraction},
                             {"elapsed_s", r.state.elapsed_seconds},
                             {"interrupted", r.interrupted},
                             {"ranks", launch.world_size},
                             {"payload_bytes_per_step", r.payload_bytes_per_step},
                             {"sent_bytes_per_step", r.sent_bytes_per_step}};
    simclr::write_text_atomically((fs::path(out_) / "pretrain.json").string(), result.dump(2) + "\n");
    print_result(result, json_,
                 fmt::format("pretrained {} steps ({:.1f} min, {:.1f} pairs/s, {:.1f}% waiting for data), final loss "
                             "{:.4f}\ncheckpoint: {}\nmetrics:    {}",
                             r.state.step, r.state.elapsed_seconds / 60, r.mean_pairs_per_s,
                             100 * r.data_wait_fraction, r.last_loss, r.checkpoint,
                             (fs::path(out_) / "metrics.jsonl").string()));
    if (r.interrupted) {
      spdlog::warn("interrupted at step {}; checkpoint saved. Continue with: simclr pretrain --out {} --resume",
                   r.state.step, out_);
      return stopped_code;
    }
    return 0;
  }

 private:
  Overrides overrides_;
  std::string out_;
  bool resume_ = false, previous_ = false;
  std::vector<std::string> allow_changes_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_pretrain_command() { return std::make_unique<PretrainCommand>(); }

}  // namespace simclr::cli

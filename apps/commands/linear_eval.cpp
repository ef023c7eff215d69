// `simclr linear-eval`: a linear probe on the frozen encoder's features.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/eval/linear_eval.h"
#include "simclr/io/atomic_file.h"

namespace simclr::cli {
namespace {

class LinearEvalCommand : public Command {
 public:
  std::string name() const override { return "linear-eval"; }
  std::string description() const override {
    return "linear evaluation of a frozen encoder (top-1/top-5 on test)";
  }

  void add_options(CLI::App& app) override {
    add_checkpoint_option(app, checkpoint_);
    app.add_flag("--random-init", random_init_, "evaluate the randomly initialised encoder (baseline)");
    app.add_option("--out", out_, "result JSON file (default: next to the checkpoint)");
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const EvalInput in = eval_input(overrides_, checkpoint_, random_init_);
    const auto& reader = in.reader;
    const auto r = simclr::eval::linear_eval(in.config, in.weights());
    nlohmann::json grid = nlohmann::json::array();
    for (size_t i = 0; i < r.weight_decays.size() && i < r.probe.holdout_top1.size(); ++i) {
      grid.push_back({{"weight_decay", r.weight_decays[i]}, {"holdout_top1", r.probe.holdout_top1[i]}});
    }
    nlohmann::json result = {{"top1", r.probe.top1},
                             {"top5", r.probe.top5},
                             {"feature_layer", r.feature_layer},
                             {"weight_decay", r.probe.weight_decay},
                             {"weight_decay_grid", grid},
                             {"train_top1", r.probe.train_top1},
                             {"train_size", r.train_size},
                             {"test_size", r.test_size},
                             {"feature_dim", r.feature_dim},
                             {"random_init", random_init_},
                             {"test_split", r.test_split},
                             {"checkpoint", reader ? reader->path() : ""},
                             {"feature_seconds", r.feature_seconds},
                             {"probe_seconds", r.probe_seconds}};
    std::string out_path = out_;
    if (out_path.empty()) {
      out_path = in.result_path(r.feature_layer == "h" ? "linear_eval" : "linear_eval_" + r.feature_layer);
    }
    if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
    print_result(result, json_,
                 fmt::format("linear eval ({}, on {}): top-1 {:.2f}%  top-5 {:.2f}%  (L2 {:g} chosen on a hold-out; "
                             "{} train / {} test images){}",
                             random_init_ ? "random init" : "pretrained", r.feature_layer, 100 * r.probe.top1,
                             100 * r.probe.top5, r.probe.weight_decay, r.train_size, r.test_size,
                             out_path.empty() ? "" : "\nresult: " + out_path));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string checkpoint_, out_;
  bool random_init_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_linear_eval_command() { return std::make_unique<LinearEvalCommand>(); }

}  // namespace simclr::cli

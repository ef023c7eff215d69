// `simclr embed`: the features of a split as a .npy file with its index.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/eval/embed.h"

namespace simclr::cli {
namespace {

class EmbedCommand : public Command {
 public:
  std::string name() const override { return "embed"; }
  std::string description() const override {
    return "images to embeddings: FILE.npy (float32) and FILE.index.csv";
  }

  void add_options(CLI::App& app) override {
    add_checkpoint_option(app, checkpoint_);
    app.add_flag("--random-init", random_init_, "embed with the randomly initialised encoder");
    app.add_option("--split", split_, "train or test")->capture_default_str();
    app.add_option("--out", out_, "the .npy file to write")->required();
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const EvalInput in = eval_input(overrides_, checkpoint_, random_init_);
    const auto r = simclr::eval::embed(in.config, in.weights(), split_, out_);
    nlohmann::json result = {{"npy", r.npy_path}, {"index", r.index_path}, {"meta", r.meta_path}, {"rows", r.rows},
                             {"dim", r.dim}, {"feature_layer", in.config.eval.feature_layer}, {"split", split_},
                             {"computed_in", r.precision}};
    print_result(result, json_,
                 fmt::format("wrote {} ({} x {} float32, computed in {}), {} and {}", r.npy_path, r.rows, r.dim,
                             r.precision, r.index_path, r.meta_path));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string checkpoint_, split_ = "test", out_;
  bool random_init_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_embed_command() { return std::make_unique<EmbedCommand>(); }

}  // namespace simclr::cli

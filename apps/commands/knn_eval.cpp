// `simclr knn-eval`: weighted kNN classification by the frozen encoder's features.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/eval/knn_eval.h"
#include "simclr/io/atomic_file.h"

namespace simclr::cli {
namespace {

class KnnEvalCommand : public Command {
 public:
  std::string name() const override { return "knn-eval"; }
  std::string description() const override {
    return "weighted kNN classification of test images by frozen features";
  }

  void add_options(CLI::App& app) override {
    add_checkpoint_option(app, checkpoint_);
    app.add_flag("--random-init", random_init_, "evaluate the randomly initialised encoder (baseline)");
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const EvalInput in = eval_input(overrides_, checkpoint_, random_init_);
    const auto r = simclr::eval::knn_eval(in.config, in.weights());
    nlohmann::json result = {{"top1", r.knn.top1},         {"top5", r.knn.top5},
                             {"k", r.k},                   {"temperature", r.temperature},
                             {"feature_layer", r.feature_layer}, {"train_size", r.train_size},
                             {"test_size", r.test_size},   {"feature_dim", r.feature_dim},
                             {"random_init", in.random_init}, {"checkpoint", in.reader ? in.reader->path() : ""},
                             {"test_split", r.test_split},
                             {"feature_seconds", r.feature_seconds}, {"knn_seconds", r.knn_seconds}};
    const std::string out_path =
        in.result_path(r.feature_layer == "h" ? "knn_eval" : "knn_eval_" + r.feature_layer);
    if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
    print_result(result, json_,
                 fmt::format("kNN eval (k={}, T={:g}, on {}): top-1 {:.2f}%  top-5 {:.2f}%  ({} train / {} test "
                             "images)",
                             r.k, r.temperature, r.feature_layer, 100 * r.knn.top1, 100 * r.knn.top5, r.train_size,
                             r.test_size));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string checkpoint_;
  bool random_init_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_knn_eval_command() { return std::make_unique<KnnEvalCommand>(); }

}  // namespace simclr::cli

// `simclr finetune`: semi-supervised fine-tuning on a fraction of the labels.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/eval/finetune.h"
#include "simclr/io/atomic_file.h"

namespace simclr::cli {
namespace {

class FinetuneCommand : public Command {
 public:
  std::string name() const override { return "finetune"; }
  std::string description() const override {
    return "fine-tune the encoder on a class-balanced fraction of the labels";
  }

  void add_options(CLI::App& app) override {
    add_checkpoint_option(app, checkpoint_);
    app.add_flag("--random-init", random_init_, "train the same network from scratch on the same labels");
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const EvalInput in = eval_input(overrides_, checkpoint_, random_init_);
    const auto r = simclr::eval::finetune(in.config, in.weights());
    nlohmann::json result = {{"top1", r.top1},
                             {"top5", r.top5},
                             {"label_fraction", in.config.finetune.label_fraction},
                             {"labeled_images", r.labeled},
                             {"from_layer", r.from_layer},
                             {"epochs", r.epochs},
                             {"steps", r.steps},
                             {"train_top1", r.train_top1},
                             {"random_init", in.random_init},
                             {"checkpoint", in.reader ? in.reader->path() : ""},
                             {"test_split", r.test_split},
                             {"seconds", r.seconds}};
    const std::string out_path =
        in.result_path(fmt::format("finetune_{:g}pct_{}", 100 * in.config.finetune.label_fraction, r.from_layer));
    if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
    print_result(result, json_,
                 fmt::format("fine-tuned ({}) from {} on {} labeled images ({:g}%): top-1 {:.2f}%  top-5 {:.2f}%",
                             in.random_init ? "from scratch" : "pretrained", r.from_layer, r.labeled,
                             100 * in.config.finetune.label_fraction, 100 * r.top1, 100 * r.top5));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string checkpoint_;
  bool random_init_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_finetune_command() { return std::make_unique<FinetuneCommand>(); }

}  // namespace simclr::cli

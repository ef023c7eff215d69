// `simclr export`: the trained encoder as a TorchScript module.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/core/error.h"
#include "simclr/data/dataset.h"
#include "simclr/eval/eval_model.h"
#include "simclr/serialize/torchscript_export.h"

namespace simclr::cli {
namespace {

class ExportCommand : public Command {
 public:
  std::string name() const override { return "export"; }
  std::string description() const override { return "the encoder as a TorchScript module for torch.jit.load"; }

  void add_options(CLI::App& app) override {
    add_checkpoint_option(app, checkpoint_)->required();
    app.add_option("--out", out_, "the .pt file to write")->required();
    app.add_flag("--with-head", with_head_, "also export the projection head as project(h)");
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    const EvalInput in = eval_input(overrides_, checkpoint_, false);
    SIMCLR_CHECK(in.reader, "simclr export needs --checkpoint RUN_DIR");
    auto train = simclr::data::open_dataset(in.config.data, simclr::data::Split::kTrain);
    auto m = simclr::eval::load_eval_model(in.config, in.reader.get(), *train);
    m.model->to(torch::kCPU);
    simclr::serialize::ExportInfo info;
    info.input_size = m.image_size;
    info.input_channels = m.channels;
    info.source = in.reader->path();
    info.config_yaml = simclr::config::to_yaml(in.config);
    const auto meta = simclr::serialize::export_torchscript(m.model, info, with_head_, out_);
    nlohmann::json result = {{"file", out_}, {"info", meta}};
    print_result(result, json_,
                 fmt::format("exported {} (input {}x{}x{} float in [0,1] NCHW, output h of {} values{}) to {}",
                             meta["arch"].get<std::string>(), m.channels, m.image_size, m.image_size,
                             meta["feature_dim"].get<int64_t>(), with_head_ ? "; project(h) gives z" : "", out_));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string checkpoint_, out_;
  bool with_head_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_export_command() { return std::make_unique<ExportCommand>(); }

}  // namespace simclr::cli

// `simclr augment-preview`: the augmented views of a few images as one PNG.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/pipeline/preview.h"

namespace simclr::cli {
namespace {

class AugmentPreviewCommand : public Command {
 public:
  std::string name() const override { return "augment-preview"; }
  std::string description() const override { return "PNG grid of augmented views, as the model will see them"; }

  void add_options(CLI::App& app) override {
    app.add_option("--out", out_, "PNG file to write")->required();
    app.add_option("--images", images_, "rows: the first N images of the training split")->capture_default_str();
    app.add_option("--views", views_, "augmented views per image")->capture_default_str();
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    Config config;
    overrides_.apply(config);
    simclr::config::validate(config);
    const auto r = simclr::pipeline::write_augment_preview(config, out_, images_, views_);
    nlohmann::json result = {{"png", out_}, {"images", r.rows}, {"views", r.cols - 1}, {"width", r.width},
                             {"height", r.height}};
    print_result(result, json_,
                 fmt::format("wrote {} ({} images x {} views, {}x{} px; first column unaugmented)", out_, r.rows,
                             r.cols - 1, r.width, r.height));
    return 0;
  }

 private:
  Overrides overrides_;
  std::string out_;
  int images_ = 8, views_ = 6;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_augment_preview_command() { return std::make_unique<AugmentPreviewCommand>(); }

}  // namespace simclr::cli

// `simclr info`: what a checkpoint or an exported module holds, or what the
// machine offers when no file is given.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/serialize/torchscript_export.h"
#include "simclr/core/precision.h"

namespace simclr::cli {
namespace {
namespace fs = std::filesystem;

class InfoCommand : public Command {
 public:
  std::string name() const override { return "info"; }
  std::string description() const override {
    return "what a checkpoint or an exported module holds and expects; without a file, the machine (threads, BLAS, "
           "bf16) and what slows it down";
  }

  void add_options(CLI::App& app) override {
    app.add_option("file", file_, "checkpoint, run directory or exported .pt");
    add_json_flag(app, json_);
  }

  int run() override {
    if (file_.empty()) return run_machine_info();
    SIMCLR_CHECK(fs::is_regular_file(file_) || fs::is_directory(file_), "'{}' does not exist", file_);
    nlohmann::json result;
    std::string human;
    const fs::path checkpoint =
        fs::is_directory(file_) ? fs::path(file_) / simclr::serialize::kCheckpointFile : fs::path(file_);
    bool is_checkpoint = false;
    try {
      simclr::serialize::CheckpointReader reader(checkpoint.string());
      is_checkpoint = true;
      const auto& c = reader.config();
      result = {{"kind", "checkpoint"},       {"file", reader.path()},     {"step", reader.state().step},
                {"epoch", reader.state().epoch}, {"arch", c.model.arch},    {"width", c.model.width},
                {"dataset", c.data.dataset},  {"data", c.data.path}};
      const std::string shape = c.model.arch.rfind("vit", 0) == 0
                                    ? fmt::format("{} patch {}", c.model.arch, c.model.patch_size)
                                    : fmt::format("{} width {}", c.model.arch, c.model.width);
      human = fmt::format("simclr checkpoint {}: {}, step {}, epoch {}, trained on {} '{}'", reader.path(), shape,
                          reader.state().step, reader.state().epoch, c.data.dataset, c.data.path);
    } catch (const std::exception&) {  // not a checkpoint: try an exported module
      if (fs::is_directory(file_)) throw;
    }
    if (!is_checkpoint) {
      const auto meta = simclr::serialize::read_export_info(file_);
      result = {{"kind", "torchscript"}, {"file", file_}, {"info", meta}};
      const auto& input = meta["input"];
      // ResNets as simclr has always printed them; other encoders by their summary.
      const std::string encoder =
          meta.contains("width") && meta.contains("stem")
              ? fmt::format("{} width {} ({} stem)", meta["arch"].get<std::string>(), meta["width"].get<int64_t>(),
                            meta["stem"].get<std::string>())
              : meta.value("encoder", meta["arch"].get<std::string>());
      human = fmt::format(
          "TorchScript export {}: {}; input {} {} {}x{}x{} in {}; forward -> h ({} values){}\n"
          "preprocessing: {}\nfrom: {}",
          file_, encoder, input["dtype"].get<std::string>(), input["layout"].get<std::string>(), input["channels"].get<int64_t>(),
          input["size"].get<int64_t>(), input["size"].get<int64_t>(), input["range"].get<std::string>(),
          meta["feature_dim"].get<int64_t>(), meta["with_head"].get<bool>() ? "; project(h) -> z" : "",
          meta["preprocessing"].get<std::string>(), meta["source"].get<std::string>());
    }
    print_result(result, json_, human);
    return 0;
  }

 private:
  int run_machine_info() const {
    simclr::configure_threads(0, 0);
    const auto blas = simclr::blas_info();
    const auto warnings = simclr::compute_warnings();
    nlohmann::json result = {{"kind", "machine"},
                             {"torch", TORCH_VERSION},
                             {"cores", simclr::available_cores()},
                             {"intra_op_threads", torch::get_num_threads()},
                             {"blas", blas.kind},
                             {"blas_library", blas.path},
                             {"onednn", at::hasMKLDNN()},
                             {"malloc", simclr::memory_allocator()},
                             {"bf16", simclr::cpu_has_bf16()},
                             {"cuda", torch::cuda::is_available()},
                             {"warnings", warnings}};
    std::string human =
        fmt::format("{}\nBLAS library: {}\nbf16 instructions: {} | CUDA: {}", simclr::describe_compute(), blas.path,
                    simclr::cpu_has_bf16() ? "yes" : "no", torch::cuda::is_available() ? "yes" : "no");
    for (const auto& w : warnings) human += "\nwarning: " + w;
    print_result(result, json_, human);
    return 0;
  }

  std::string file_;
  bool json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_info_command() { return std::make_unique<InfoCommand>(); }

}  // namespace simclr::cli

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

#include "simclr/pipeline/preview.h"
#include "simclr/data/dataset.h"
#include "simclr/eval/eval_model.h"
#include "simclr/config/config.h"
#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/eval/embed.h"
#include "simclr/experiments/ablation.h"
#include "simclr/eval/finetune.h"
#include "simclr/eval/knn.h"
#include "simclr/eval/linear_eval.h"
#include "simclr/serialize/torchscript_export.h"
#include "simclr/core/threads.h"
#include "simclr/core/precision.h"
#include "simclr/io/atomic_file.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/io/run_lock.h"
#include "simclr/distributed/communicator.h"
#include "simclr/distributed/launch.h"
#include "simclr/train/pretrain.h"
#include "simclr/train/throughput.h"

namespace {
namespace fs = std::filesystem;
using simclr::config::Config;

// Ctrl-C / SIGTERM (core/interrupt.h): pretraining finishes the step,
// checkpoints and exits 130 / 143; every other command stops at its next
// poll with the same codes. A second signal exits at once.

// Short names of the command-line contract for the most used keys.
const std::map<std::string, std::string> kAliases = {
    {"data.path", "--data"},          {"data.dataset", "--dataset"},       {"model.arch", "--arch"},
    {"model.width", "--width"},       {"train.batch_size", "--batch-size"}, {"train.epochs", "--epochs"},
    {"train.steps", "--steps"},       {"train.minutes", "--minutes"},       {"train.threads", "--threads"},
    {"train.seed", "--seed"},         {"loss.temperature", "--temperature"}, {"train.precision", "--precision"},
    {"eval.knn_k", "--k"},            {"finetune.label_fraction", "--label-fraction"},
    {"eval.feature_layer", "--layer"},
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
    if (!config_file.empty()) {
      simclr::register_input(config_file, "the config file");
      simclr::config::load_yaml_file(config, config_file);
    }
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

// The communicator of a data-parallel run when a launcher (torchrun, srun,
// or RANK/WORLD_SIZE by hand) started this process as one of several ranks.
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

// Every rank logs its warnings and errors, tagged; rank 0 alone the progress.
void tag_rank_logs(const simclr::distributed::LaunchInfo& launch) {
  if (!launch.distributed()) return;
  spdlog::set_pattern(fmt::format("[%H:%M:%S] [rank {}/{}] %^%l%$ %v", launch.rank, launch.world_size));
  if (launch.rank != 0) spdlog::set_level(spdlog::level::warn);
}

struct ResumeFlags {
  bool resume = false, previous = false;
  std::vector<std::string> allow_changes;
};

int run_pretrain(const Overrides& overrides, const std::string& out, const ResumeFlags& flags, bool json) {
  const auto launch = simclr::distributed::detect_launch();
  tag_rank_logs(launch);
  const bool resume = flags.resume || flags.previous;
  SIMCLR_CHECK(resume || flags.allow_changes.empty(), "--allow-change applies to --resume only");
  // A fresh run: the defaults with the command line on top. A resumed one
  // starts from the config in its checkpoint (never from config.yaml, which
  // a user may have edited); pretrain() compares the two before it writes.
  Config config;
  overrides.apply(config);
  simclr::config::validate(config);
  if (!resume) spdlog::info("resolved config:\n{}", simclr::config::to_yaml(config));

  const auto comm = connect_ranks(launch, config);
  simclr::train::PretrainOptions options;
  options.resume = flags.resume;
  options.resume_previous = flags.previous;
  options.allow_changes = flags.allow_changes;
  options.apply_overrides = [&overrides](Config& c) { overrides.apply(c); };
  simclr::train::PretrainResult r;
  try {
    r = simclr::train::pretrain(config, out, options, comm);
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
    nlohmann::json result = {{"run_dir", out}, {"step", r.state.step}, {"already_complete", true}};
    print_result(result, json, fmt::format("'{}' is already complete at step {}; nothing changed", out, r.state.step));
    return 0;
  }
  nlohmann::json result = {{"run_dir", out},
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
    return stopped_code;
  }
  return 0;
}

// The config and checkpoint an evaluation command works on: the checkpoint's
// own config (the model as it was trained) with the command line on top.
struct EvalInput {
  Config config;
  std::unique_ptr<simclr::serialize::CheckpointReader> reader;
  simclr::serialize::CheckpointReader* weights() const { return random_init ? nullptr : reader.get(); }
  bool random_init = false;
  // <run dir>/<name>.json, or <run dir>/<name>_random_init.json
  std::string result_path(const std::string& name) const {
    if (!reader) return "";
    return (fs::path(reader->path()).parent_path() / (name + (random_init ? "_random_init" : "") + ".json")).string();
  }
};

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

int run_linear_eval(const Overrides& overrides, const std::string& checkpoint, bool random_init,
                    const std::string& out, bool json) {
  const EvalInput in = eval_input(overrides, checkpoint, random_init);
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
                           {"random_init", random_init},
                           {"test_split", r.test_split},
                           {"checkpoint", reader ? reader->path() : ""},
                           {"feature_seconds", r.feature_seconds},
                           {"probe_seconds", r.probe_seconds}};
  std::string out_path = out;
  if (out_path.empty()) {
    out_path = in.result_path(r.feature_layer == "h" ? "linear_eval" : "linear_eval_" + r.feature_layer);
  }
  if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
  print_result(result, json,
               fmt::format("linear eval ({}, on {}): top-1 {:.2f}%  top-5 {:.2f}%  (L2 {:g} chosen on a hold-out; {} "
                           "train / {} test images){}",
                           random_init ? "random init" : "pretrained", r.feature_layer, 100 * r.probe.top1,
                           100 * r.probe.top5,
                           r.probe.weight_decay, r.train_size, r.test_size,
                           out_path.empty() ? "" : "\nresult: " + out_path));
  return 0;
}

int run_knn_eval(const Overrides& overrides, const std::string& checkpoint, bool random_init, bool json) {
  const EvalInput in = eval_input(overrides, checkpoint, random_init);
  const auto r = simclr::eval::knn_eval(in.config, in.weights());
  nlohmann::json result = {{"top1", r.knn.top1},         {"top5", r.knn.top5},
                           {"k", r.k},                   {"temperature", r.temperature},
                           {"feature_layer", r.feature_layer}, {"train_size", r.train_size},
                           {"test_size", r.test_size},   {"feature_dim", r.feature_dim},
                           {"random_init", in.random_init}, {"checkpoint", in.reader ? in.reader->path() : ""},
                           {"test_split", r.test_split},
                           {"feature_seconds", r.feature_seconds}, {"knn_seconds", r.knn_seconds}};
  const std::string out_path = in.result_path(r.feature_layer == "h" ? "knn_eval" : "knn_eval_" + r.feature_layer);
  if (!out_path.empty()) simclr::write_text_atomically(out_path, result.dump(2) + "\n");
  print_result(result, json,
               fmt::format("kNN eval (k={}, T={:g}, on {}): top-1 {:.2f}%  top-5 {:.2f}%  ({} train / {} test images)",
                           r.k, r.temperature, r.feature_layer, 100 * r.knn.top1, 100 * r.knn.top5, r.train_size,
                           r.test_size));
  return 0;
}

int run_finetune(const Overrides& overrides, const std::string& checkpoint, bool random_init, bool json) {
  const EvalInput in = eval_input(overrides, checkpoint, random_init);
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
  print_result(result, json,
               fmt::format("fine-tuned ({}) from {} on {} labeled images ({:g}%): top-1 {:.2f}%  top-5 {:.2f}%",
                           in.random_init ? "from scratch" : "pretrained", r.from_layer, r.labeled,
                           100 * in.config.finetune.label_fraction, 100 * r.top1, 100 * r.top5));
  return 0;
}

int run_embed(const Overrides& overrides, const std::string& checkpoint, bool random_init, const std::string& split,
              const std::string& out, bool json) {
  const EvalInput in = eval_input(overrides, checkpoint, random_init);
  const auto r = simclr::eval::embed(in.config, in.weights(), split, out);
  nlohmann::json result = {{"npy", r.npy_path}, {"index", r.index_path}, {"meta", r.meta_path}, {"rows", r.rows},
                           {"dim", r.dim}, {"feature_layer", in.config.eval.feature_layer}, {"split", split},
                           {"computed_in", r.precision}};
  print_result(result, json,
               fmt::format("wrote {} ({} x {} float32, computed in {}), {} and {}", r.npy_path, r.rows, r.dim,
                           r.precision, r.index_path, r.meta_path));
  return 0;
}

int run_export(const Overrides& overrides, const std::string& checkpoint, bool with_head, const std::string& out,
               bool json) {
  const EvalInput in = eval_input(overrides, checkpoint, false);
  SIMCLR_CHECK(in.reader, "simclr export needs --checkpoint RUN_DIR");
  auto train = simclr::data::open_dataset(in.config.data, simclr::data::Split::kTrain);
  auto m = simclr::eval::load_eval_model(in.config, in.reader.get(), *train);
  m.model->to(torch::kCPU);
  simclr::serialize::ExportInfo info;
  info.input_size = m.image_size;
  info.input_channels = m.channels;
  info.source = in.reader->path();
  info.config_yaml = simclr::config::to_yaml(in.config);
  const auto meta = simclr::serialize::export_torchscript(m.model, info, with_head, out);
  nlohmann::json result = {{"file", out}, {"info", meta}};
  print_result(result, json,
               fmt::format("exported {} (input {}x{}x{} float in [0,1] NCHW, output h of {} values{}) to {}",
                           meta["arch"].get<std::string>(), m.channels, m.image_size, m.image_size,
                           meta["feature_dim"].get<int64_t>(), with_head ? "; project(h) gives z" : "", out));
  return 0;
}

int run_machine_info(bool json) {
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
  std::string human = fmt::format("{}\nBLAS library: {}\nbf16 instructions: {} | CUDA: {}", simclr::describe_compute(),
                                  blas.path, simclr::cpu_has_bf16() ? "yes" : "no",
                                  torch::cuda::is_available() ? "yes" : "no");
  for (const auto& w : warnings) human += "\nwarning: " + w;
  print_result(result, json, human);
  return 0;
}

int run_bench(const Overrides& overrides, const simclr::train::TrainingBenchOptions& options, bool json) {
  const auto launch = simclr::distributed::detect_launch();
  tag_rank_logs(launch);
  Config config;
  overrides.apply(config);
  const auto isa = simclr::cpu_isa();
  const auto comm = connect_ranks(launch, config);
  const auto b = simclr::train::benchmark_training(config, options, comm);
  if (launch.rank != 0) return 0;
  const double loss_share = b.loss_seconds * b.pairs_per_s / static_cast<double>(b.batch_size);
  nlohmann::json result = {{"kind", "bench"},
                           {"torch", TORCH_VERSION},
                           {"device", b.device},
                           {"cores", b.cores},
                           {"intra_op_threads", b.torch_threads},
                           {"loader_workers", b.loader_workers},
                           {"blas", simclr::blas_info().kind},
                           {"malloc", simclr::memory_allocator()},
                           {"isa", simclr::cpu_isa()},
                           {"precision", b.precision},
                           {"batch_size", b.batch_size},
                           {"image_side", b.side},
                           {"gemm_fp32_gflops", b.fp32.gflops},
                           {"gemm_bf16_gflops", b.bf16.gflops},
                           {"gflop_per_pair", b.flops_per_pair / 1e9},
                           {"limit_pairs_per_s", b.limit_pairs_per_s},
                           {"pairs_per_s", b.pairs_per_s},
                           {"fraction_of_limit", b.fraction_of_limit},
                           {"step_seconds", b.step_seconds},
                           {"loss_seconds", b.loss_seconds},
                           {"loss_share_of_step", loss_share},
                           {"data_wait_fraction", b.data_wait_fraction},
                           {"peak_rss_mib", b.peak_rss_mib},
                           {"cuda_device_name", b.cuda_device_name},
                           {"cuda_memory_mib", b.cuda_memory_mib},
                           {"cuda_peak_allocated_mib", b.cuda_peak_allocated_mib},
                           {"ranks", b.ranks},
                           {"peak_rss_mib_all_ranks", b.peak_rss_mib_all_ranks},
                           {"payload_bytes_per_step", b.payload_bytes_per_step},
                           {"sent_bytes_per_step", b.sent_bytes_per_step}};
  std::string human = fmt::format(
      "machine: {} cores, {} model threads, {} loader workers, {} | BLAS {} | malloc {} | ISA {}\n", b.cores,
      b.torch_threads, b.loader_workers, b.device, simclr::blas_info().kind, simclr::memory_allocator(),
      fmt::join(isa, " "));
  const bool gemm = options.gemm && b.ranks == 1;  // ranks sharing the cores do not measure the peak
  if (gemm) {
    human += fmt::format("GEMM peak: fp32 {:.0f} GFLOP/s (n={}), bf16 {}\n", b.fp32.gflops, b.fp32.size,
                         b.bf16.gflops > 0 ? fmt::format("{:.0f} GFLOP/s (n={})", b.bf16.gflops, b.bf16.size)
                                           : std::string("not available"));
  }
  human += fmt::format("step: {} {} batch {} at {}x{}: {:.2f} GFLOP per pair", config.model.arch, b.precision,
                       b.batch_size, b.side, b.side, b.flops_per_pair / 1e9);
  if (gemm) human += fmt::format(", limit {:.1f} pairs/s at the {} peak", b.limit_pairs_per_s, b.precision);
  human += fmt::format("\nmeasured: {:.1f} pairs/s (median of {} steps after {} warm-up)", b.pairs_per_s,
                       b.step_seconds.size(), options.warmup_steps);
  if (gemm) human += fmt::format(" = {:.0f}% of the limit", 100 * b.fraction_of_limit);
  human += fmt::format("\nNT-Xent forward+backward at batch {}: {:.1f} ms ({:.1f}% of a step) | waiting for data "
                       "{:.1f}% | peak memory {:.0f} MiB",
                       b.batch_size, 1e3 * b.loss_seconds, 100 * loss_share, 100 * b.data_wait_fraction,
                       b.peak_rss_mib);
  if (!b.cuda_device_name.empty()) {
    human += fmt::format("\nGPU: {} ({:.0f} MiB), peak allocated by tensors {:.0f} MiB", b.cuda_device_name,
                         b.cuda_memory_mib, b.cuda_peak_allocated_mib);
  }
  if (b.ranks > 1) {
    human += fmt::format("\ndata parallel: {} ranks, peak memory of all {:.0f} MiB, {:.2f} MB of tensors exchanged per "
                         "step per rank ({:.2f} MB sent with ring algorithms)",
                         b.ranks, b.peak_rss_mib_all_ranks, b.payload_bytes_per_step / 1e6,
                         b.sent_bytes_per_step / 1e6);
  }
  print_result(result, json, human);
  return 0;
}

// "I/N" -> shard I of N.
simclr::experiments::AblationOptions parse_shard(const std::string& text, int64_t threads) {
  simclr::experiments::AblationOptions options;
  options.threads = threads;
  if (text.empty()) return options;
  const auto slash = text.find('/');
  try {
    size_t used = 0;
    SIMCLR_CHECK(slash != std::string::npos, "");
    options.shard = std::stoi(text.substr(0, slash), &used);
    SIMCLR_CHECK(used == slash, "");
    options.shards = std::stoi(text.substr(slash + 1), &used);
    SIMCLR_CHECK(used == text.size() - slash - 1, "");
  } catch (const std::exception&) {
    throw simclr::Error(fmt::format("--shard '{}': give I/N, shard I of N counted from 0, e.g. 0/2 and 1/2", text));
  }
  SIMCLR_CHECK(options.shards >= 1 && options.shard >= 0 && options.shard < options.shards,
               "--shard '{}': I must be 0 to N-1, e.g. 0/2 and 1/2", text);
  return options;
}

int run_ablate(const std::string& grid_file, const std::string& out, const std::string& shard, int64_t threads,
               bool json) {
  const auto options = parse_shard(shard, threads);
  const auto grid = simclr::experiments::load_grid(grid_file);
  spdlog::info("ablation '{}': {} cells x {} seeds, linear probe on {}", grid.name, grid.cells.size(),
               grid.seeds.size(), fmt::join(grid.eval_layers, ", "));
  std::error_code ec;
  fs::create_directories(out, ec);
  SIMCLR_CHECK(fs::is_directory(out), "cannot create '{}': {}", out, ec.message());
  const simclr::io::RunLock lock(out, "simclr ablate --grid " + grid_file);
  const auto r =
      simclr::experiments::run_ablation(grid, out, [](const auto&) { return simclr::interrupted(); }, options);
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& row : r.rows) cells.push_back({{"label", row.label}, {"layer", row.layer}, {"mean", row.mean},
                                                  {"std", row.std}});
  nlohmann::json result = {{"name", grid.name},           {"runs_done", r.runs_done},
                           {"runs_reused", r.runs_reused}, {"runs_left", r.runs_left},
                           {"table_md", r.markdown_path},
                           {"table_json", r.json_path},    {"heatmap", r.heatmap_path},
                           {"cells", cells}};
  std::ifstream md(r.markdown_path);
  print_result(result, json, std::string(std::istreambuf_iterator<char>(md), {}));
  if (r.interrupted) {
    spdlog::warn("interrupted; the run in progress is checkpointed. Continue with the same command");
    return simclr::interrupt_signal() ? 128 + simclr::interrupt_signal() : 130;
  }
  if (r.runs_left > 0) {
    spdlog::info("{} runs belong to other shards; when they are done, run without --shard to finish the table",
                 r.runs_left);
  }
  return 0;
}

int run_info(const std::string& file, bool json) {
  if (file.empty()) return run_machine_info(json);
  SIMCLR_CHECK(fs::is_regular_file(file) || fs::is_directory(file), "'{}' does not exist", file);
  nlohmann::json result;
  std::string human;
  const fs::path checkpoint = fs::is_directory(file) ? fs::path(file) / simclr::serialize::kCheckpointFile : fs::path(file);
  bool is_checkpoint = false;
  try {
    simclr::serialize::CheckpointReader reader(checkpoint.string());
    is_checkpoint = true;
    const auto& c = reader.config();
    result = {{"kind", "checkpoint"},       {"file", reader.path()},     {"step", reader.state().step},
              {"epoch", reader.state().epoch}, {"arch", c.model.arch},    {"width", c.model.width},
              {"dataset", c.data.dataset},  {"data", c.data.path}};
    human = fmt::format("simclr checkpoint {}: {} width {}, step {}, epoch {}, trained on {} '{}'", reader.path(),
                        c.model.arch, c.model.width, reader.state().step, reader.state().epoch, c.data.dataset,
                        c.data.path);
  } catch (const std::exception&) {  // not a checkpoint: try an exported module
    if (fs::is_directory(file)) throw;
  }
  if (!is_checkpoint) {
    const auto meta = simclr::serialize::read_export_info(file);
    result = {{"kind", "torchscript"}, {"file", file}, {"info", meta}};
    const auto& input = meta["input"];
    human = fmt::format(
        "TorchScript export {}: {} width {} ({} stem); input {} {} {}x{}x{} in {}; forward -> h ({} values){}\n"
        "preprocessing: {}\nfrom: {}",
        file, meta["arch"].get<std::string>(), meta["width"].get<int64_t>(), meta["stem"].get<std::string>(),
        input["dtype"].get<std::string>(), input["layout"].get<std::string>(), input["channels"].get<int64_t>(),
        input["size"].get<int64_t>(), input["size"].get<int64_t>(), input["range"].get<std::string>(),
        meta["feature_dim"].get<int64_t>(), meta["with_head"].get<bool>() ? "; project(h) -> z" : "",
        meta["preprocessing"].get<std::string>(), meta["source"].get<std::string>());
  }
  print_result(result, json, human);
  return 0;
}

int run_augment_preview(const Overrides& overrides, const std::string& out, int images, int views, bool json) {
  Config config;
  overrides.apply(config);
  simclr::config::validate(config);
  const auto r = simclr::pipeline::write_augment_preview(config, out, images, views);
  nlohmann::json result = {{"png", out}, {"images", r.rows}, {"views", r.cols - 1}, {"width", r.width},
                           {"height", r.height}};
  print_result(result, json,
               fmt::format("wrote {} ({} images x {} views, {}x{} px; first column unaugmented)", out, r.rows,
                           r.cols - 1, r.width, r.height));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // First, so that a signal during start-up is seen (and not ignored, as a
  // shell does for SIGINT in background jobs).
  simclr::install_interrupt_handlers();
  spdlog::set_default_logger(spdlog::stderr_color_mt("simclr"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");

  CLI::App app{"simclr: SimCLR self-supervised pretraining and evaluation of image encoders (C++/LibTorch)"};
  app.set_version_flag("--version", "simclr 0.1.0");
  app.require_subcommand(1);
  bool json = false, random_init = false;
  ResumeFlags resume_flags;
  std::string out, checkpoint, result_file;

  Overrides pretrain_overrides, eval_overrides;
  auto* pretrain = app.add_subcommand("pretrain", "SimCLR pretraining of an encoder (writes a run directory)");
  pretrain->add_option("--out", out, "run directory (config.yaml, metrics.jsonl, checkpoint.pt)")->required();
  pretrain->add_flag("--resume", resume_flags.resume, "continue the run in --out from its last checkpoint");
  pretrain->add_flag("--resume-previous", resume_flags.previous,
                     "continue from the checkpoint before the last (checkpoint.previous.pt), when the last is damaged");
  pretrain->add_option("--allow-change", resume_flags.allow_changes,
                       "with --resume: keys whose new values may change the run's meaning (batch size, lr, loss, "
                       "augmentation, ...), or 'all'; recorded in resumes.jsonl")
      ->delimiter(',');
  pretrain->add_flag("--json", json, "print the result as one JSON object on stdout");
  pretrain_overrides.add_to(pretrain);

  auto* linear = app.add_subcommand("linear-eval", "linear evaluation of a frozen encoder (top-1/top-5 on test)");
  linear->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
  linear->add_flag("--random-init", random_init, "evaluate the randomly initialised encoder (baseline)");
  linear->add_option("--out", result_file, "result JSON file (default: next to the checkpoint)");
  linear->add_flag("--json", json, "print the result as one JSON object on stdout");
  eval_overrides.add_to(linear);

  // The evaluation commands share one set of overrides (they never run together).
  Overrides knn_overrides, finetune_overrides, embed_overrides, export_overrides;
  auto* knn = app.add_subcommand("knn-eval", "weighted kNN classification of test images by frozen features");
  knn->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
  knn->add_flag("--random-init", random_init, "evaluate the randomly initialised encoder (baseline)");
  knn->add_flag("--json", json, "print the result as one JSON object on stdout");
  knn_overrides.add_to(knn);

  auto* fine = app.add_subcommand("finetune", "fine-tune the encoder on a class-balanced fraction of the labels");
  fine->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
  fine->add_flag("--random-init", random_init, "train the same network from scratch on the same labels");
  fine->add_flag("--json", json, "print the result as one JSON object on stdout");
  finetune_overrides.add_to(fine);

  std::string split = "test";
  auto* emb = app.add_subcommand("embed", "images to embeddings: FILE.npy (float32) and FILE.index.csv");
  emb->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain");
  emb->add_flag("--random-init", random_init, "embed with the randomly initialised encoder");
  emb->add_option("--split", split, "train or test")->capture_default_str();
  emb->add_option("--out", out, "the .npy file to write")->required();
  emb->add_flag("--json", json, "print the result as one JSON object on stdout");
  embed_overrides.add_to(emb);

  bool with_head = false;
  auto* exp = app.add_subcommand("export", "the encoder as a TorchScript module for torch.jit.load");
  exp->add_option("--checkpoint", checkpoint, "run directory or checkpoint.pt written by pretrain")->required();
  exp->add_option("--out", out, "the .pt file to write")->required();
  exp->add_flag("--with-head", with_head, "also export the projection head as project(h)");
  exp->add_flag("--json", json, "print the result as one JSON object on stdout");
  export_overrides.add_to(exp);

  std::string info_file;
  auto* info = app.add_subcommand("info",
                                  "what a checkpoint or an exported module holds and expects; without a file, the "
                                  "machine (threads, BLAS, bf16) and what slows it down");
  info->add_option("file", info_file, "checkpoint, run directory or exported .pt");
  info->add_flag("--json", json, "print the result as one JSON object on stdout");

  Overrides bench_overrides;
  simclr::train::TrainingBenchOptions bench_options;
  bool skip_gemm = false;
  std::string grid_file, ablate_shard;
  int64_t ablate_threads = -1;
  auto* ablate = app.add_subcommand("ablate",
                                    "run a grid of short pretraining runs (one axis, several seeds), probe each, and "
                                    "write a table (and a heatmap for augmentation pairs); rerun to resume");
  ablate->add_option("--grid", grid_file, "grid file (YAML; see grids/)")->required()->check(CLI::ExistingFile);
  ablate->add_option("--out", out, "output directory (runs/, table.md, table.json, heatmap.png)")->required();
  ablate->add_option("--shard", ablate_shard,
                     "run only share I of N of the grid (I/N, from 0), e.g. 0/2 and 1/2 as two processes; "
                     "then run without it to finish the table");
  ablate->add_option("--threads", ablate_threads, "LibTorch threads per run (default: the grid's train.threads)")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}));
  ablate->add_flag("--json", json, "print the result as one JSON object on stdout");

  auto* bench = app.add_subcommand("bench",
                                   "measure the machine (GEMM peak, threads, BLAS, ISA) and pretraining steps of a "
                                   "config: pairs/s and the fraction of the machine's limit");
  bench->add_option("--timed-steps", bench_options.timed_steps, "steps timed (median)")->capture_default_str();
  bench->add_option("--warmup-steps", bench_options.warmup_steps, "untimed steps first")->capture_default_str();
  bench->add_flag("--skip-gemm", skip_gemm, "do not measure the GEMM peaks (no limit or fraction then)");
  bench->add_flag("--json", json, "print the result as one JSON object on stdout");
  bench_overrides.add_to(bench);

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
    simclr::interrupt_point("start-up");
    if (*pretrain) return run_pretrain(pretrain_overrides, out, resume_flags, json);
    if (*linear) return run_linear_eval(eval_overrides, checkpoint, random_init, result_file, json);
    if (*preview) return run_augment_preview(preview_overrides, preview_out, preview_images, preview_views, json);
    if (*knn) return run_knn_eval(knn_overrides, checkpoint, random_init, json);
    if (*fine) return run_finetune(finetune_overrides, checkpoint, random_init, json);
    if (*emb) return run_embed(embed_overrides, checkpoint, random_init, split, out, json);
    if (*exp) return run_export(export_overrides, checkpoint, with_head, out, json);
    if (*info) return run_info(info_file, json);
    if (*ablate) return run_ablate(grid_file, out, ablate_shard, ablate_threads, json);
    if (*bench) {
      bench_options.gemm = !skip_gemm;
      return run_bench(bench_overrides, bench_options, json);
    }
  } catch (const simclr::Interrupted& e) {
    spdlog::warn("{}; stopped. Files already written are intact", e.what());
    return e.exit_code();
  } catch (const simclr::Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const c10::Error& e) {
    // Something simclr did not check first: a bug to report, never a crash.
    spdlog::error("internal error in LibTorch: {}", e.what_without_backtrace());
    return 2;
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory; lower --batch-size or --eval.batch_size, or use a smaller model");
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (...) {
    spdlog::error("unknown error; please report it with the command line");
    return 2;
  }
  return 0;
}

// `simclr bench`: the machine's limits and the measured speed of pretraining steps.
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "simclr/core/threads.h"
#include "simclr/train/throughput.h"

namespace simclr::cli {
namespace {

class BenchCommand : public Command {
 public:
  std::string name() const override { return "bench"; }
  std::string description() const override {
    return "measure the machine (GEMM peak, threads, BLAS, ISA) and pretraining steps of a config: pairs/s and the "
           "fraction of the machine's limit";
  }

  void add_options(CLI::App& app) override {
    app.add_option("--timed-steps", options_.timed_steps, "steps timed (median)")->capture_default_str();
    app.add_option("--warmup-steps", options_.warmup_steps, "untimed steps first")->capture_default_str();
    app.add_flag("--skip-gemm", skip_gemm_, "do not measure the GEMM peaks (no limit or fraction then)");
    add_json_flag(app, json_);
    overrides_.add_to(&app);
  }

  int run() override {
    options_.gemm = !skip_gemm_;
    const auto launch = simclr::distributed::detect_launch();
    tag_rank_logs(launch);
    Config config;
    overrides_.apply(config);
    const auto isa = simclr::cpu_isa();
    const auto comm = connect_ranks(launch, config);
    const auto b = simclr::train::benchmark_training(config, options_, comm);
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
    const bool gemm = options_.gemm && b.ranks == 1;  // ranks sharing the cores do not measure the peak
    if (gemm) {
      human += fmt::format("GEMM peak: fp32 {:.0f} GFLOP/s (n={}), bf16 {}\n", b.fp32.gflops, b.fp32.size,
                           b.bf16.gflops > 0 ? fmt::format("{:.0f} GFLOP/s (n={})", b.bf16.gflops, b.bf16.size)
                                             : std::string("not available"));
    }
    human += fmt::format("step: {} {} batch {} at {}x{}: {:.2f} GFLOP per pair", config.model.arch, b.precision,
                         b.batch_size, b.side, b.side, b.flops_per_pair / 1e9);
    if (gemm) human += fmt::format(", limit {:.1f} pairs/s at the {} peak", b.limit_pairs_per_s, b.precision);
    human += fmt::format("\nmeasured: {:.1f} pairs/s (median of {} steps after {} warm-up)", b.pairs_per_s,
                         b.step_seconds.size(), options_.warmup_steps);
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
      human += fmt::format("\ndata parallel: {} ranks, peak memory of all {:.0f} MiB, {:.2f} MB of tensors exchanged "
                           "per step per rank ({:.2f} MB sent with ring algorithms)",
                           b.ranks, b.peak_rss_mib_all_ranks, b.payload_bytes_per_step / 1e6,
                           b.sent_bytes_per_step / 1e6);
    }
    print_result(result, json_, human);
    return 0;
  }

 private:
  Overrides overrides_;
  simclr::train::TrainingBenchOptions options_;
  bool skip_gemm_ = false, json_ = false;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace simclr::cli

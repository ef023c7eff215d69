// Where the time of one training step goes, operator by operator: LibTorch's
// profiler around a few synthetic steps of the model the flags describe
// (the same model, precision and memory format as `simclr pretrain`), with
// the self time of each operator summed over the steps. For finding what to
// optimise; `simclr bench` gives the end-to-end figure.
//
//   build/bench/simclr_step_profile --width 64 --side 32 --channels 3 --batch 256
#include <torch/csrc/autograd/profiler_legacy.h>

#include <CLI/CLI.hpp>
#include <map>

#include "simclr/config/config.h"
#include "simclr/core/threads.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/models/conv2d.h"
#include "simclr/models/simclr_model.h"
#include "simclr/optim/lars.h"
#include "simclr/core/precision.h"
#include "simclr/train/step.h"

int main(int argc, char** argv) {
  using namespace simclr;
  CLI::App app{"operator self-time profile of a SimCLR training step"};
  int64_t width = 64, side = 32, channels = 3, batch = 256, steps = 2;
  std::string precision_name = "auto", conv_backward = "auto";
  app.add_option("--width", width)->capture_default_str();
  app.add_option("--side", side)->capture_default_str();
  app.add_option("--channels", channels)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--steps", steps, "profiled steps (after one untimed)")->capture_default_str();
  app.add_option("--precision", precision_name)->capture_default_str();
  app.add_option("--conv-backward", conv_backward, "auto or onednn (train.conv_backward)")
      ->check(CLI::IsMember({"auto", "onednn"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  configure_torch_threads(0);
  models::set_gemm_conv_backward(conv_backward == "auto");
  const auto precision = resolve_precision(precision_name);
  config::ModelConfig mc;
  mc.width = width;
  torch::manual_seed(0);
  auto model = models::build_model(mc, channels, side);
  models::to_channels_last(*model);
  optim::Lars optimizer(model->parameters(), {});
  optimizer.set_lr(0.1);
  LossScaler scaler(false);
  const auto parameters = model->parameters();
  const auto x = torch::rand({2 * batch, channels, side, side}).contiguous(at::MemoryFormat::ChannelsLast);
  auto step = [&] {
    const auto out = train::forward_loss(model, x, 0.5, precision, torch::kCPU);
    train::backward_and_step(out.loss, optimizer, scaler, parameters);
  };
  step();
  namespace prof = torch::autograd::profiler;
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) step();
  const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const auto lists = prof::disableProfilerLegacy();

  // Self time: each range's duration minus the ranges nested directly in it.
  std::map<std::string, std::pair<double, int64_t>> self;  // name -> (ms, calls)
  for (const auto& events : lists) {
    struct Open {
      const prof::LegacyEvent* start;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kindStr() == "push") {
        stack.push_back({&e, 0});
      } else if (e.kindStr() == "pop" && !stack.empty()) {
        const auto open = stack.back();
        stack.pop_back();
        const double us = open.start->cpuElapsedUs(e);
        auto& s = self[open.start->name()];
        s.first += (us - open.children_us) / 1e3;
        ++s.second;
        if (!stack.empty()) stack.back().children_us += us;
      }
    }
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(self.begin(), self.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
  fmt::print("{} steps of ResNet-18 w{} + head, 2 x {} views of {}x{}x{}, {}, {} threads: {:.0f} ms per step\n", steps,
             width, batch, side, side, channels, simclr::to_string(precision), torch::get_num_threads(),
             total_ms / steps);
  fmt::print("{:>10} {:>6} {:>7}  {}\n", "ms/step", "share", "calls", "operator (self time)");
  for (size_t i = 0; i < std::min<size_t>(rows.size(), 30); ++i) {
    const auto& [name, v] = rows[i];
    fmt::print("{:10.1f} {:5.1f}% {:7}  {}\n", v.first / steps, 100 * v.first / total_ms, v.second / steps, name);
  }
  return 0;
}

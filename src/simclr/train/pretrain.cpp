#include "simclr/train/pretrain.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/core/threads.h"
#include "simclr/data/subset.h"
#include "simclr/eval/knn.h"
#include "simclr/serialize/weight_import.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/distributed/gradient_sync.h"
#include "simclr/models/batch_norm.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/run_lock.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/optim/schedule.h"
#include "simclr/core/precision.h"
#include "simclr/train/step.h"

namespace simclr::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s / 60) % 60);
  return fmt::format("{}m{:02d}s", s / 60, s % 60);
}

// On resume, drops metric lines past the checkpoint so the file has each step once.
void truncate_metrics(const std::string& path, int64_t last_step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    try {
      if (nlohmann::json::parse(line).at("step").get<int64_t>() <= last_step) kept += line + "\n";
    } catch (const std::exception&) {
      // A torn last line from a killed process: drop it.
    }
  }
  write_text_atomically(path, kept);
}

// Every rank runs rank 0's config. A rank whose own differs was launched
// with other arguments (an error), except on resume, where only rank 0 needs
// the run directory and the others take the saved config from it.
config::Config agree_on_config(const config::Config& config, distributed::Communicator& comm, bool resume) {
  const std::string mine = config::to_yaml(config);
  const std::string main = comm.broadcast_text(mine);
  if (comm.is_main() || main == mine) return config;
  SIMCLR_CHECK(resume, "rank {} was started with another config than rank 0; launch every rank with the same "
               "arguments. Rank 0's config:\n{}\nrank {}'s:\n{}", comm.rank(), main, comm.rank(), mine);
  config::Config adopted;
  config::apply_yaml(adopted, main, "rank 0's config");
  return adopted;
}

// Rank 0's weights, batch-norm statistics, optimizer state and run position
// on every rank.
void broadcast_start(models::SimclrModel& model, optim::Lars& optimizer, serialize::TrainState& state,
                     distributed::Communicator& comm) {
  std::vector<torch::Tensor> tensors = model->parameters();
  for (const auto& b : model->buffers()) tensors.push_back(b);
  for (const auto& m : optimizer.state()) tensors.push_back(m);
  auto position = torch::tensor({static_cast<double>(state.step), static_cast<double>(state.epoch),
                                 static_cast<double>(state.batch_in_epoch), state.elapsed_seconds},
                                torch::kDouble)
                      .to(tensors.front().device());
  tensors.push_back(position);
  comm.broadcast_(tensors);
  position = position.cpu();
  state.step = static_cast<int64_t>(position[0].item<double>());
  state.epoch = static_cast<int64_t>(position[1].item<double>());
  state.batch_in_epoch = static_cast<int64_t>(position[2].item<double>());
  state.elapsed_seconds = position[3].item<double>();
}

bool starts_with(const std::string& key, const char* prefix) { return key.rfind(prefix, 0) == 0; }

// The weights and the data they were trained on: never changed by a resume.
bool fixed_by_checkpoint(const std::string& key) {
  return starts_with(key, "model.") || key == "data.dataset" || key == "data.path" || key == "data.unlabeled" ||
         key == "augment.image_size";
}

// How the run is carried out, not what it computes: free to change.
bool operational(const std::string& key) {
  return key == "train.epochs" || key == "train.steps" || key == "train.minutes" || key == "train.threads" ||
         key == "train.checkpoint_every" || key == "train.log_every_seconds" || key == "train.device" ||
         key == "train.channels_last" || key == "data.workers" || key == "data.prefetch" ||
         key == "data.on_bad_image" || starts_with(key, "eval.") || starts_with(key, "finetune.") ||
         key == "distributed.backend" || key == "distributed.timeout_seconds" || key == "distributed.bucket_mb";
}

}  // namespace

std::vector<config::Change> check_resume_changes(const config::Config& saved, const config::Config& requested,
                                                 const std::vector<std::string>& allow_changes,
                                                 const std::string& run_dir) {
  const auto changes = config::diff(saved, requested);
  const bool allow_all = std::find(allow_changes.begin(), allow_changes.end(), "all") != allow_changes.end();
  for (const auto& key : allow_changes) {
    SIMCLR_CHECK(key == "all" || std::any_of(changes.begin(), changes.end(), [&](const auto& c) { return c.key == key; }),
                 "--allow-change {}: the resumed run does not change {}; drop it (or give the new value too)", key, key);
  }
  for (const auto& c : changes) {
    SIMCLR_CHECK(!fixed_by_checkpoint(c.key),
                 "cannot resume '{}' with {} {}: its checkpoint was trained with {} {}, and its weights and data do "
                 "not fit another value. Drop the option to continue the run, or start a new run with another --out",
                 run_dir, c.key, c.after, c.key, c.before);
    const bool allowed = operational(c.key) || allow_all ||
                         std::find(allow_changes.begin(), allow_changes.end(), c.key) != allow_changes.end();
    SIMCLR_CHECK(allowed,
                 "resuming '{}' with {} {} (the run so far used {}) changes what the run means half-way; pass "
                 "--allow-change {} to do it anyway (it is logged and recorded in resumes.jsonl), or drop the option",
                 run_dir, c.key, c.after, c.before, c.key);
  }
  return changes;
}

PretrainResult pretrain(config::Config config, const std::string& run_dir, bool resume, const StopRequest& stop,
                        std::shared_ptr<distributed::Communicator> comm) {
  PretrainOptions options;
  options.resume = resume;
  options.stop = stop;
  return pretrain(std::move(config), run_dir, options, std::move(comm));
}

PretrainResult pretrain(config::Config config, const std::string& run_dir, const PretrainOptions& options,
                        std::shared_ptr<distributed::Communicator> comm) {
  const bool resume = options.resume || options.resume_previous;
  const StopRequest& stop = options.stop;
  if (comm && comm->world_size() == 1) comm.reset();
  const bool main_rank = !comm || comm->is_main();
  const int world = comm ? comm->world_size() : 1;
  const std::string checkpoint_path = (fs::path(run_dir) / serialize::kCheckpointFile).string();
  const std::string previous_path = (fs::path(run_dir) / serialize::kPreviousCheckpointFile).string();
  std::unique_ptr<serialize::CheckpointReader> reader;
  std::unique_ptr<io::RunLock> lock;
  std::vector<config::Change> changes;
  if (!main_rank) {
    // Only rank 0 touches the run directory.
  } else {
    if (resume) {
      SIMCLR_CHECK(fs::is_directory(run_dir), "cannot resume: '{}' does not exist; run without --resume to start",
                   run_dir);
    } else {
      std::error_code ec;
      fs::create_directories(run_dir, ec);
      SIMCLR_CHECK(fs::is_directory(run_dir), "cannot create run directory '{}': {}", run_dir, ec.message());
    }
    lock = std::make_unique<io::RunLock>(run_dir, options.command);
    if (resume) {
      const std::string& from = options.resume_previous ? previous_path : checkpoint_path;
      SIMCLR_CHECK(fs::exists(from),
                   options.resume_previous
                       ? "cannot resume from the previous checkpoint: '{}' holds no checkpoint.previous.pt (a run "
                         "keeps one from its second checkpoint on)"
                       : "cannot resume: '{}' holds no checkpoint.pt; run without --resume to start",
                   run_dir);
      reader = std::make_unique<serialize::CheckpointReader>(from);
      config::Config requested = config;
      if (options.apply_overrides) {
        requested = reader->config();
        options.apply_overrides(requested);
      }
      config::validate(requested);
      changes = check_resume_changes(reader->config(), requested, options.allow_changes, run_dir);
      for (const auto& c : changes) spdlog::info("resume: {} {} -> {}", c.key, c.before, c.after);
      config = requested;
      spdlog::info("resolved config:\n{}", config::to_yaml(config));
    } else {
      SIMCLR_CHECK(!fs::exists(checkpoint_path),
                   "run directory '{}' already holds a checkpoint; pass --resume to continue it or choose another --out",
                   run_dir);
    }
  }
  if (comm) config = agree_on_config(config, *comm, resume);
  config::validate(config);
  SIMCLR_CHECK(!comm || (config.loss.name == "nt_xent" && config.loss.normalize),
               "loss.name {} with loss.normalize {} runs in one process only; data-parallel runs use nt_xent on "
               "normalised projections", config.loss.name, config.loss.normalize);
  SIMCLR_CHECK(config.train.batch_size % world == 0,
               "train.batch_size {} is the global batch and must be a multiple of the number of ranks ({})",
               config.train.batch_size, world);

  const auto& tc = config.train;
  // Ranks on one machine split its cores unless train.threads says otherwise.
  const ThreadPlan threads =
      configure_threads(threads_per_rank(static_cast<int>(tc.threads), comm ? comm->local_world_size() : 1),
                        static_cast<int>(config.data.workers));
  const int workers = threads.loader_workers;
  torch::Device device = resolve_device(tc.device);
  if (device.is_cuda() && comm) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm->local_rank()));
  const Precision precision = resolve_precision(tc.precision, device);

  interrupt_point("start-up");
  auto dataset = data::open_dataset(config.data, data::Split::kTrain, true);
  interrupt_point("data");
  const auto augment_options = augment::AugmentOptions::from_config(config.augment, dataset->image_side());
  const serialize::InputContract input{dataset->channels(), augment_options.size};
  auto model = [&] {
    // Ranks that run as threads of one process (the tests) share LibTorch's
    // global generator: seeding and drawing the initial weights must not interleave.
    static std::mutex global_generator;
    std::lock_guard<std::mutex> lock(global_generator);
    torch::manual_seed(static_cast<uint64_t>(tc.seed));
    return models::build_model(config.model, dataset->channels(), augment_options.size);
  }();
  if (reader) reader->load_model(model);
  else serialize::maybe_import_weights(config.model, model);
  model->to(device);
  const bool channels_last = resolve_channels_last(tc.channels_last, device);
  if (channels_last) models::to_channels_last(*model);
  model->train();
  const auto& dc = config.distributed;
  if (comm && dc.sync_bn) models::set_batch_norm_sync(*model, comm);

  const double peak_lr = optim::scaled_lr(
      config.optim.lr_base.value_or(config.optim.lr_scaling == "linear" ? 0.3 : 0.075), tc.batch_size,
      config.optim.lr_scaling);
  optim::Lars optimizer(model->parameters(),
                        {config.optim.momentum, config.optim.weight_decay, config.optim.lars_trust,
                         config.optim.optimizer == "lars"});
  // fp16 (CUDA only) needs loss scaling; for bf16 and fp32 this is the identity.
  LossScaler scaler(precision == Precision::kFp16);
  const auto parameters = model->parameters();
  serialize::TrainState state;
  if (reader) {
    reader->load_optimizer(optimizer);
    state = reader->state();
  }
  std::unique_ptr<distributed::GradientAverager> gradient_averager;
  if (comm) {
    broadcast_start(model, optimizer, state, *comm);
    gradient_averager = std::make_unique<distributed::GradientAverager>(parameters, comm, dc.bucket_mb);
    comm->reset_traffic();
  }
  const Parallel parallel{comm.get(), dc.global_negatives, gradient_averager.get()};
  interrupt_point("model");

  pipeline::ContrastiveLoader loader(
      dataset, augment::SimclrAugment(augment_options),
      {tc.batch_size, workers, static_cast<int>(config.data.prefetch), static_cast<uint64_t>(tc.seed), true,
       comm ? comm->rank() : 0, world, /*pin_memory=*/device.is_cuda()});
  const int64_t per_epoch = loader.batches_per_epoch();
  // The schedule runs over steps, or over seconds for a wall-clock budget.
  const bool by_time = tc.minutes > 0;
  const double total =
      by_time ? tc.minutes * 60.0
              : static_cast<double>(tc.steps > 0 ? tc.steps : optim::epoch_budget_steps(tc.epochs, per_epoch));
  const double warmup = config.optim.lr_warmup_fraction * total;
  if (!by_time && main_rank) {
    if (const auto w = optim::schedule_warning(total, config.optim.lr_warmup_fraction)) spdlog::warn("{}", *w);
  }

  auto done = [&] {
    if (by_time) return state.elapsed_seconds >= total;
    return static_cast<double>(state.step) >= total;
  };
  PretrainResult result;
  result.checkpoint = checkpoint_path;
  if (resume && done()) {
    // Every rank knows the state and the config by now, so all return here.
    spdlog::info("'{}' is complete: step {} of a budget of {} {}; nothing to do (give a larger --steps, --epochs or "
                 "--minutes to train on)",
                 run_dir, state.step, by_time ? tc.minutes : total, by_time ? "minutes" : "steps");
    result.state = state;
    result.already_complete = true;
    return result;
  }

  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  AppendFile metrics;  // rank 0 only
  int64_t saved_step = resume ? state.step : -1;
  // A metrics line that cannot be written stops the run: a run whose log has
  // holes would mislead whoever reads it later.
  auto record = [&](const nlohmann::json& line) {
    if (!main_rank) return;
    try {
      metrics.append(line.dump() + "\n");
    } catch (const WriteError& e) {
      throw WriteError(fmt::format("{}. The run stops at step {}; {}", e.what(), state.step,
                                   saved_step >= 0 ? fmt::format("its checkpoint of step {} in '{}' is intact: free "
                                                                 "space and continue with --resume",
                                                                 saved_step, run_dir)
                                                   : std::string("it has no checkpoint yet")),
                       e.error_number);
    }
  };
  if (main_rank) {
    write_text_atomically((fs::path(run_dir) / "config.yaml").string(), config::to_yaml(config));
    if (resume) truncate_metrics(metrics_path, state.step);
    else write_text_atomically(metrics_path, "");
    metrics = AppendFile(metrics_path);
    if (resume) {
      // Each resume, with what it changed, in a file of its own: metrics.jsonl
      // readers expect step lines.
      nlohmann::json changed = nlohmann::json::object();
      for (const auto& c : changes) changed[c.key] = {{"before", c.before}, {"after", c.after}};
      const std::string resumes_path = (fs::path(run_dir) / "resumes.jsonl").string();
      std::ifstream in(resumes_path);
      std::string text(std::istreambuf_iterator<char>(in), {});
      text += nlohmann::json{{"step", state.step}, {"resumed_from", reader->path()}, {"changes", changed}}.dump() + "\n";
      write_text_atomically(resumes_path, text);
    }
  }

  spdlog::info("data: {}", dataset->describe());
  spdlog::info("augment: {}", augment_options.describe());
  int64_t n_params = 0;
  for (const auto& p : model->parameters()) n_params += p.numel();
  spdlog::info("model: {}, h dim {}, {:.2f}M parameters | {} {} | {} | {}", model->encoder->summary(),
               model->encoder->feature_dim(), n_params / 1e6, device.str(), to_string(precision), threads.describe(),
               describe_compute());
  for (const auto& w : compute_warnings(comm ? comm->local_world_size() : 1)) spdlog::warn("{}", w);
  if (comm) {
    spdlog::info("data parallel: {} ranks x {} images = global batch {}; {} gradient buckets of {:g} MB; global "
                 "negatives {}, global batch norm {}; rank 0 writes the run directory",
                 world, tc.batch_size / world, tc.batch_size, gradient_averager->bucket_count(), dc.bucket_mb,
                 dc.global_negatives ? "on" : "off", dc.sync_bn ? "on" : "off");
  }
  spdlog::info("schedule: peak lr {:.4g} ({} scaling), {} {} budget, {} batches per epoch{}", peak_lr,
               config.optim.lr_scaling, by_time ? tc.minutes : total, by_time ? "minutes" : "steps", per_epoch,
               resume ? fmt::format(", resuming at step {}", state.step) : "");

  // The online kNN monitor: a weighted kNN on part of the labeled splits,
  // every eval.knn_every_steps steps or eval.knn_every_epochs epochs and at
  // the end, into metrics.jsonl.
  std::shared_ptr<data::Dataset> knn_bank, knn_queries;
  const bool monitor_wanted = config.eval.knn_every_steps > 0 || config.eval.knn_every_epochs > 0;
  if (monitor_wanted && !data::has_test_split(config.data) && !config.eval.test_on_train) {
    spdlog::warn("kNN monitor off: '{}' has no test split, and scoring the training images would overstate it "
                 "(--eval.test_on_train true scores them anyway)",
                 config.data.path);
  } else if (monitor_wanted) {
    auto labeled = data::open_dataset(config.data, data::Split::kTrain);
    auto test = data::open_dataset(config.data, data::Split::kTest);
    if (labeled->num_classes() > 0 && labeled->label(0) >= 0 && test->label(0) >= 0) {
      knn_bank = std::make_shared<data::SubsetDataset>(
          labeled, data::evenly_spaced(labeled->size(), static_cast<size_t>(config.eval.knn_monitor_train)));
      knn_queries = std::make_shared<data::SubsetDataset>(
          test, data::evenly_spaced(test->size(), static_cast<size_t>(config.eval.knn_monitor_test)));
    } else {
      spdlog::warn("kNN monitor off: '{}' has no labels", config.data.path);
    }
  }
  auto knn_monitor = [&] {
    const auto t0 = Clock::now();
    eval::FeatureOptions fo;
    fo.size = augment_options.size;
    fo.batch_size = config.eval.batch_size;
    fo.workers = workers;
    fo.channels_last = channels_last;
    fo.precision = precision;
    const auto bank = eval::extract_features(model->encoder, knn_bank, fo);
    const auto queries = eval::extract_features(model->encoder, knn_queries, fo);
    eval::KnnOptions ko;
    ko.k = config.eval.knn_k;
    ko.temperature = config.eval.knn_temperature;
    const auto r = eval::knn_classify(bank, queries, knn_bank->num_classes(), ko);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    record({{"step", state.step}, {"knn_top1", r.top1}, {"knn_top5", r.top5}, {"knn_bank", bank.x.size(0)},
            {"knn_queries", queries.x.size(0)}, {"knn_seconds", seconds}});
    spdlog::info("kNN monitor at step {}: top-1 {:.2f}% top-5 {:.2f}% ({} train / {} test images, {:.1f} s)",
                 state.step, 100 * r.top1, 100 * r.top5, bank.x.size(0), queries.x.size(0), seconds);
  };

  // After --resume-previous the latest checkpoint is the damaged one: the
  // first save replaces it without keeping it as the previous.
  bool keep_previous = !options.resume_previous;
  auto save = [&] {
    if (!main_rank) return;
    serialize::save_checkpoint(checkpoint_path, config, model, optimizer, state, input, keep_previous);
    keep_previous = true;
    saved_step = state.step;
  };

  int64_t steps_here = 0;
  double longest_step = 0;
  double seconds_here = 0, wait_here = 0;  // wait: time the model waited for the loader
  bool warned_starving = false;
  auto last_log = Clock::now(), last_live = Clock::now();
  const bool live = main_rank && ::isatty(STDERR_FILENO) != 0;
  bool epoch_open = false;
  while (!done()) {
    if (!epoch_open) {
      loader.start_epoch(state.epoch, state.batch_in_epoch);
      epoch_open = true;
    }
    const auto t0 = Clock::now();
    auto batch = loader.next();
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!batch) {
      ++state.epoch;
      state.batch_in_epoch = 0;
      epoch_open = false;
      continue;
    }
    const double lr = optim::warmup_cosine(by_time ? state.elapsed_seconds : static_cast<double>(state.step), total,
                                           warmup, peak_lr);
    optimizer.set_lr(lr);
    const int64_t n = batch->view1.size(0);
    // Pinned (on CUDA), so the copy runs asynchronously on the current stream.
    auto x = batch->views.to(device, /*non_blocking=*/batch->views.is_pinned());
    if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    if (comm) comm->set_step(state.step);
    const auto out = forward_loss(model, x, config.loss, precision, device, parallel);
    double loss_value = out.loss.item<double>();
    double top1 = out.top1.item<double>();
    if (comm) {  // the global batch's loss: the mean of the ranks' (equal-sized) losses
      const auto sums = comm->sum({loss_value, top1});
      loss_value = sums[0] / world;
      top1 = sums[1] / world;
    }
    if (!std::isfinite(loss_value)) {
      throw DivergedError(fmt::format("the loss became {} at step {} (lr {:.4g}); lower --optim.lr_base or use "
                                      "--train.precision fp32. The last checkpoint in '{}' is intact: fix the "
                                      "setting and continue with --resume",
                                      loss_value, state.step, lr, run_dir),
                          state.step);
    }
    if (!backward_and_step(out.loss, optimizer, scaler, parameters, parallel)) {
      spdlog::warn("step {}: fp16 gradients overflowed; step skipped, loss scale lowered to {:g}", state.step,
                   scaler.scale());
    }

    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    signal_point("training");
    bool stop_requested = false;
    ++state.step;
    ++state.batch_in_epoch;
    bool epoch_ended = false;
    if (state.batch_in_epoch == per_epoch) {  // close the epoch now so checkpoints point at the next one
      ++state.epoch;
      state.batch_in_epoch = 0;
      epoch_open = false;
      epoch_ended = true;
    }
    if (comm) {
      // Every rank must agree on when the run ends: the mean step time feeds
      // wall-clock budgets, and a stop request on any rank stops them all.
      serialize::TrainState next = state;
      next.elapsed_seconds += dt;
      const auto sums = comm->sum({dt, (stop && stop(next)) || interrupted() ? 1.0 : 0.0});
      dt = sums[0] / world;
      stop_requested = sums[1] > 0;
    }
    state.elapsed_seconds += dt;
    // A signal ends the run after this step and a checkpoint: give the
    // watchdog room for both (a save takes about as long as a step here).
    longest_step = std::max(longest_step, dt);
    set_interrupt_grace_seconds(std::max(10.0, 4 * longest_step + 10));
    ++steps_here;
    seconds_here += dt;
    result.step_seconds.push_back(dt);
    wait_here += waited;
    result.last_loss = loss_value;

    nlohmann::json line = {{"step", state.step},      {"epoch", batch->epoch},
                           {"loss", loss_value},       {"lr", lr},
                           {"contrastive_top1", top1},
                           {"pairs_per_s", n * world / dt}, {"data_wait_s", waited},
                           {"elapsed_s", state.elapsed_seconds}};
    record(line);

    // Every rank runs the monitor (only rank 0 logs and writes it): were the
    // others to wait in their next collective instead, a monitor longer than
    // distributed.timeout_seconds would read as a dead rank 0.
    const auto& ec = config.eval;
    if (knn_bank && ((ec.knn_every_steps > 0 && state.step % ec.knn_every_steps == 0) ||
                     (ec.knn_every_epochs > 0 && epoch_ended && state.epoch % ec.knn_every_epochs == 0) || done())) {
      try {
        knn_monitor();
      } catch (const Interrupted&) {
        // A signal during the monitor: the step is done, so save it below.
        if (comm) throw;  // the other ranks would wait for this one; its last checkpoint stands
      }
    }
    const bool stopping = comm ? stop_requested : (stop && stop(state)) || interrupted();
    if ((tc.checkpoint_every > 0 && state.step % tc.checkpoint_every == 0) || stopping) save();
    if (stopping) {
      result.interrupted = true;
      break;
    }
    // A live line rewritten in place on a terminal, and a full log line
    // every train.log_every_seconds (the only output when piped to a file).
    const double since_log = std::chrono::duration<double>(Clock::now() - last_log).count();
    const double since_live = std::chrono::duration<double>(Clock::now() - last_live).count();
    const bool log_now = since_log >= tc.log_every_seconds || done();
    if (log_now || (live && since_live >= 0.5)) {
      const double rate = steps_here / seconds_here;
      const double left = by_time ? total - state.elapsed_seconds : (total - state.step) / rate;
      const std::string line =
          fmt::format("step {}{} | epoch {} | loss {:.4f} | top1 {:.3f} | lr {:.4g} | {:.1f} pairs/s | ETA {}",
                      state.step, by_time ? "" : fmt::format("/{:.0f}", total), batch->epoch, loss_value,
                      top1, lr, rate * tc.batch_size, format_duration(left));
      if (live) fmt::print(stderr, "\r\033[K{}", log_now ? "" : line);
      if (log_now) {
        spdlog::info("{}", line);
        last_log = Clock::now();
        // The first batch includes the workers' start; judge from step 20 on.
        const double wait_share = wait_here / seconds_here;
        if (steps_here >= 20 && wait_share > 0.1 && !warned_starving) {
          spdlog::warn("the model waited for data {:.0f}% of the time: the loader is the bottleneck; raise "
                       "--data.workers (now {})",
                       100 * wait_share, workers);
          warned_starving = true;
        }
      }
      last_live = Clock::now();
    }
  }
  if (live) fmt::print(stderr, "\r\033[K");
  if (!result.interrupted) save();
  result.signal = interrupt_signal();
  result.state = state;
  result.mean_pairs_per_s = seconds_here > 0 ? steps_here * tc.batch_size / seconds_here : 0;
  result.data_wait_fraction = seconds_here > 0 ? wait_here / seconds_here : 0;
  if (comm && steps_here > 0) {
    const auto traffic = comm->traffic();
    result.payload_bytes_per_step = static_cast<double>(traffic.payload_bytes) / steps_here;
    result.sent_bytes_per_step = static_cast<double>(traffic.sent_bytes) / steps_here;
    spdlog::info("data parallel: {:.2f} MB of tensors all-reduced or gathered per step ({:.2f} MB sent by this rank "
                 "with ring algorithms), {} collectives per step",
                 result.payload_bytes_per_step / 1e6, result.sent_bytes_per_step / 1e6,
                 traffic.collectives / steps_here);
  }
  return result;
}

}  // namespace simclr::train

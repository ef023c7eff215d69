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
#include "simclr/serialize/weight_import.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/distributed/gradient_sync.h"
#include "simclr/models/batch_norm.h"
#include "simclr/models/conv2d.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/run_lock.h"
#include "simclr/loss/nt_xent.h"
#include "simclr/optim/schedule.h"
#include "simclr/core/precision.h"
#include "simclr/train/knn_monitor.h"
#include "simclr/train/negative_memory.h"
#include "simclr/train/recipe.h"
#include "simclr/train/step.h"
#include "simclr/train/throughput.h"

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

// How the run is carried out, not what it computes: free to change. (The
// recipe acts only when a run starts; what it chose is in the saved config.)
bool operational(const std::string& key) {
  return config::is_budget_key(key) || key == "train.threads" || key == "train.recipe" ||
         key == "train.checkpoint_every" || key == "train.log_every_seconds" || key == "train.device" ||
         key == "train.channels_last" || key == "train.conv_backward" || key == "data.workers" || key == "data.prefetch" ||
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

namespace {

// The training budget: optimizer steps (from train.steps or train.epochs),
// or seconds of training for train.minutes; the schedule runs over it.
struct Budget {
  bool by_time = false;
  double total = 0;   // steps or seconds
  double warmup = 0;  // in the same unit
  double given = 0;   // the budget as the user gave it: steps or minutes
  double position(const serialize::TrainState& s) const {
    return by_time ? s.elapsed_seconds : static_cast<double>(s.step);
  }
  bool done(const serialize::TrainState& s) const { return position(s) >= total; }
  const char* unit() const { return by_time ? "minutes" : "steps"; }
};

Budget make_budget(const config::Config& config, int64_t batches_per_epoch) {
  const auto& tc = config.train;
  Budget b;
  b.by_time = tc.minutes > 0;
  b.total = b.by_time ? tc.minutes * 60.0
                      : static_cast<double>(tc.steps > 0 ? tc.steps
                                                         : optim::epoch_budget_steps(tc.epochs, batches_per_epoch));
  b.warmup = config.optim.lr_warmup_fraction.value() * b.total;
  b.given = b.by_time ? tc.minutes : b.total;
  return b;
}

// What one optimizer step did, for the metrics line and the progress line.
struct StepReport {
  int64_t epoch = 0, pairs = 0;
  double loss = 0, top1 = 0, lr = 0;
  double seconds = 0, waited = 0;  // the whole step, and its wait for the loader
  bool epoch_ended = false;        // the step was the epoch's last
  bool stop = false;               // a signal or the StopRequest asked to stop (agreed over the ranks)
};

// One call of pretrain(), top to bottom: run() lists the phases; each is a
// member function below, in the order they run. Rank 0 alone reads and
// writes the run directory; every rank runs the rest.
class PretrainRun {
 public:
  PretrainRun(config::Config config, std::string run_dir, const PretrainOptions& options,
              std::shared_ptr<distributed::Communicator> comm)
      : config_(std::move(config)),
        run_dir_(std::move(run_dir)),
        options_(options),
        comm_(comm && comm->world_size() > 1 ? std::move(comm) : nullptr),
        main_rank_(!comm_ || comm_->is_main()),
        world_(comm_ ? comm_->world_size() : 1),
        resume_(options.resume || options.resume_previous),
        checkpoint_path_((fs::path(run_dir_) / serialize::kCheckpointFile).string()),
        metrics_path_((fs::path(run_dir_) / "metrics.jsonl").string()),
        // After --resume-previous the latest checkpoint is the damaged one:
        // the first save replaces it without keeping it as the previous.
        keep_previous_(!options.resume_previous) {}

  PretrainResult run() {
    if (main_rank_) open_run_directory();
    settle_config();
    set_up_compute();
    build_model();
    choose_recipe();
    build_optimizer();
    build_loader_and_budget();
    result_.checkpoint = checkpoint_path_;
    result_.config = config_;
    if (resume_ && budget_.done(state_)) return already_complete();
    if (main_rank_) open_run_files();
    log_start();
    monitor_ = std::make_unique<KnnMonitor>(config_);
    train_loop();
    return finish();
  }

 private:
  // --- set-up -------------------------------------------------------------

  // Rank 0: creates (or, to resume, finds) the run directory, locks it and
  // reads the checkpoint, settling the config a resume may change.
  void open_run_directory() {
    if (resume_) {
      SIMCLR_CHECK(fs::is_directory(run_dir_), "cannot resume: '{}' does not exist; run without --resume to start",
                   run_dir_);
    } else {
      std::error_code ec;
      fs::create_directories(run_dir_, ec);
      SIMCLR_CHECK(fs::is_directory(run_dir_), "cannot create run directory '{}': {}", run_dir_, ec.message());
    }
    lock_ = std::make_unique<io::RunLock>(run_dir_, options_.command);
    if (!resume_) {
      SIMCLR_CHECK(!fs::exists(checkpoint_path_),
                   "run directory '{}' already holds a checkpoint; pass --resume to continue it or choose another --out",
                   run_dir_);
      return;
    }
    const std::string from = options_.resume_previous
                                 ? (fs::path(run_dir_) / serialize::kPreviousCheckpointFile).string()
                                 : checkpoint_path_;
    SIMCLR_CHECK(fs::exists(from),
                 options_.resume_previous
                     ? "cannot resume from the previous checkpoint: '{}' holds no checkpoint.previous.pt (a run "
                       "keeps one from its second checkpoint on)"
                     : "cannot resume: '{}' holds no checkpoint.pt; run without --resume to start",
                 run_dir_);
    reader_ = std::make_unique<serialize::CheckpointReader>(from);
    config::Config requested = config_;
    if (options_.apply_overrides) {
      requested = reader_->config();
      options_.apply_overrides(requested);
    }
    keep_choices(reader_->config(), requested);
    config::validate(requested);
    changes_ = check_resume_changes(reader_->config(), requested, options_.allow_changes, run_dir_);
    for (const auto& c : changes_) spdlog::info("resume: {} {} -> {}", c.key, c.before, c.after);
    config_ = requested;
    spdlog::info("resolved config:\n{}", config::to_yaml(config_));
  }

  // Every rank takes rank 0's config; then what only a multi-rank run refuses.
  void settle_config() {
    if (comm_) config_ = train::agree_on_config(config_, *comm_, resume_);
    config::validate(config_);
    SIMCLR_CHECK(!comm_ || (config_.loss.name == "nt_xent" && config_.loss.normalize),
                 "loss.name {} with loss.normalize {} runs in one process only; data-parallel runs use nt_xent on "
                 "normalised projections",
                 config_.loss.name, config_.loss.normalize);
    SIMCLR_CHECK(config_.train.batch_size % world_ == 0,
                 "train.batch_size {} is the global batch and must be a multiple of the number of ranks ({})",
                 config_.train.batch_size, world_);
    SIMCLR_CHECK(config_.train.micro_batch_size == 0 || config_.train.micro_batch_mix_views ||
                     config_.train.batch_size / world_ >= 2,
                 "train.micro_batch_size with views apart needs at least 2 pairs per rank (batch norm of one image "
                 "per view cannot normalise); train.batch_size {} over {} ranks gives {}",
                 config_.train.batch_size, world_, config_.train.batch_size / world_);
  }

  MicroBatching micro_batching() const {
    return {config_.train.micro_batch_size, config_.train.micro_batch_mix_views};
  }

  // Threads, device and precision. Ranks on one machine split its cores
  // unless train.threads says otherwise.
  void set_up_compute() {
    const auto& tc = config_.train;
    threads_ = configure_threads(threads_per_rank(static_cast<int>(tc.threads), comm_ ? comm_->local_world_size() : 1),
                                 static_cast<int>(config_.data.workers));
    device_ = resolve_device(tc.device);
    if (device_.is_cuda() && comm_) {
      device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm_->local_rank()));
    }
    precision_ = resolve_precision(tc.precision, device_);
    // fp16 (CUDA only) needs loss scaling; for bf16 and fp32 this is the identity.
    scaler_ = LossScaler(precision_ == Precision::kFp16);
    channels_last_ = resolve_channels_last(tc.channels_last, device_);
    models::set_gemm_conv_backward(tc.conv_backward == "auto");
    interrupt_point("start-up");
  }

  // The dataset (for the input contract) and the model (fresh, imported or
  // resumed), on its device.
  void build_model() {
    dataset_ = data::open_dataset(config_.data, data::Split::kTrain, true);
    interrupt_point("data");
    augment_ = augment::AugmentOptions::from_config(config_.augment, dataset_->image_side());
    input_ = serialize::InputContract{dataset_->channels(), augment_.size};
    {
      // Ranks that run as threads of one process (the tests) share LibTorch's
      // global generator: seeding and drawing the initial weights must not interleave.
      static std::mutex global_generator;
      std::lock_guard<std::mutex> guard(global_generator);
      torch::manual_seed(static_cast<uint64_t>(config_.train.seed));
      model_ = models::build_model(config_.model, dataset_->channels(), augment_.size);
      // Its weights become a copy of the model's (NegativeMemory).
      if (config_.loss.queue_size > 0) {
        momentum_model_ = models::build_model(config_.model, dataset_->channels(), augment_.size);
      }
    }
    if (reader_) reader_->load_model(model_);
    else serialize::maybe_import_weights(config_.model, model_);
    model_->to(device_);
    if (channels_last_) models::to_channels_last(*model_);
    model_->train();
  }

  // The recipe's keys the user left unset (train/recipe.h), from the batch,
  // the dataset and the budget in epochs, which a budget in minutes
  // estimates from a timed step. Rank 0's choice holds on every rank. A
  // resume keeps what the run chose; a checkpoint from before recipes
  // existed gets the paper's values, the defaults it was trained with.
  void choose_recipe() {
    const auto& tc = config_.train;
    RunFacts facts;
    facts.batch_size = tc.batch_size;
    facts.train_images = static_cast<int64_t>(dataset_->size());
    const double images = static_cast<double>(std::max<int64_t>(1, facts.train_images));
    if (resume_) {
      auto paper = config_;
      paper.train.recipe = "paper";
      const auto choice = apply_recipe(paper, facts);
      if (choice.chosen.empty()) return;
      spdlog::info("resume: {} from the paper (the defaults before recipes)", fmt::join(choice.chosen, ", "));
      paper.train.recipe = config_.train.recipe;
      config_ = paper;
      return;
    }
    if (tc.epochs > 0) {
      facts.epochs = static_cast<double>(tc.epochs);
    } else if (tc.steps > 0) {
      facts.epochs = static_cast<double>(tc.steps * tc.batch_size) / images;
    } else if (recipe_needs_speed(config_)) {
      auto loss = config_.loss;
      if (!loss.temperature) loss.temperature = 0.5;  // any value: the step takes as long
      facts.estimated_pairs_per_s = time_step_pairs_per_s(model_, loss, tc.batch_size / world_, input_.channels,
                                                          input_.image_size, precision_, device_, channels_last_,
                                                          micro_batching()) *
                                    world_;
      facts.epochs = tc.minutes * 60 * facts.estimated_pairs_per_s / images;
    }
    recipe_ = apply_recipe(config_, facts);
    if (comm_) config_ = train::agree_on_config(config_, *comm_, /*resume=*/true);
    config::validate(config_);
  }

  // The optimizer and, for several ranks, rank 0's start on all.
  void build_optimizer() {
    const auto& dc = config_.distributed;
    if (comm_ && dc.sync_bn) models::set_batch_norm_sync(*model_, comm_);
    const auto& oc = config_.optim;
    peak_lr_ = optim::scaled_lr(oc.lr_base.value(), config_.train.batch_size, oc.lr_scaling);
    optim::LarsOptions lars;
    lars.momentum = oc.momentum;
    lars.weight_decay = oc.weight_decay.value();
    lars.trust = oc.lars_trust;
    lars.adapt = oc.optimizer == "lars";
    optimizer_ = std::make_unique<optim::Lars>(model_->parameters(), lars);
    parameters_ = model_->parameters();
    if (reader_) {
      reader_->load_optimizer(*optimizer_);
      state_ = reader_->state();
    }
    build_negative_memory();
    if (comm_) {
      broadcast_start(model_, *optimizer_, state_, *comm_);
      if (memory_) memory_->broadcast_from_rank0(*comm_);
      gradient_averager_ = std::make_unique<distributed::GradientAverager>(parameters_, comm_, dc.bucket_mb);
      comm_->reset_traffic();
    }
    parallel_ = Parallel{comm_.get(), dc.global_negatives, gradient_averager_.get()};
    interrupt_point("model");
  }

  // loss.queue_size: the momentum model (a copy of the model as it starts)
  // and its memory, or the ones the checkpoint saved.
  void build_negative_memory() {
    if (config_.loss.queue_size == 0) return;
    memory_ = std::make_unique<NegativeMemory>(momentum_model_, model_, config_.loss.queue_size,
                                               model_->head->output_dim(config_.model.head_layers),
                                               config_.model.momentum);
    torch::serialize::InputArchive saved;
    if (reader_ && reader_->read_negative_memory(saved)) {
      memory_->load(saved);
    } else if (reader_ && main_rank_) {
      spdlog::warn("resume: the checkpoint has no memory of negatives; a new one starts from the current weights");
    }
    memory_->to(device_, channels_last_);
    if (comm_ && config_.distributed.sync_bn) models::set_batch_norm_sync(*momentum_model_, comm_);
  }

  void build_loader_and_budget() {
    pipeline::LoaderOptions lo;
    lo.batch_size = config_.train.batch_size;
    lo.workers = threads_.loader_workers;
    lo.prefetch = static_cast<int>(config_.data.prefetch);
    lo.seed = static_cast<uint64_t>(config_.train.seed);
    lo.drop_last = true;
    lo.rank = comm_ ? comm_->rank() : 0;
    lo.world_size = world_;
    lo.pin_memory = device_.is_cuda();
    loader_ = std::make_unique<pipeline::ContrastiveLoader>(dataset_, augment::SimclrAugment(augment_), lo);
    per_epoch_ = loader_->batches_per_epoch();
    budget_ = make_budget(config_, per_epoch_);
    if (!budget_.by_time && main_rank_) {
      if (const auto w = optim::schedule_warning(budget_.total, config_.optim.lr_warmup_fraction.value())) {
        spdlog::warn("{}", *w);
      }
    }
  }

  // A resumed run whose budget is spent. Every rank knows the state and the
  // config by now, so all return here; no file is touched.
  PretrainResult already_complete() {
    spdlog::info("'{}' is complete: step {} of a budget of {} {}; nothing to do (give a larger --steps, --epochs or "
                 "--minutes to train on)",
                 run_dir_, state_.step, budget_.given, budget_.unit());
    result_.state = state_;
    result_.already_complete = true;
    return result_;
  }

  // Rank 0: config.yaml, metrics.jsonl (cut back to the checkpoint on
  // resume) and, for a resume, its line in resumes.jsonl.
  void open_run_files() {
    write_text_atomically((fs::path(run_dir_) / "config.yaml").string(), config::to_yaml(config_));
    if (recipe_) write_text_atomically((fs::path(run_dir_) / "recipe.json").string(), recipe_->to_json().dump(1) + "\n");
    if (resume_) {
      truncate_metrics(metrics_path_, state_.step);
      saved_step_ = state_.step;
    } else {
      write_text_atomically(metrics_path_, "");
    }
    metrics_ = AppendFile(metrics_path_);
    if (!resume_) return;
    // Each resume, with what it changed, in a file of its own: metrics.jsonl
    // readers expect step lines.
    nlohmann::json changed = nlohmann::json::object();
    for (const auto& c : changes_) changed[c.key] = {{"before", c.before}, {"after", c.after}};
    const std::string resumes_path = (fs::path(run_dir_) / "resumes.jsonl").string();
    std::ifstream in(resumes_path);
    std::string text(std::istreambuf_iterator<char>(in), {});
    text += nlohmann::json{{"step", state_.step}, {"resumed_from", reader_->path()}, {"changes", changed}}.dump() +
            "\n";
    write_text_atomically(resumes_path, text);
  }

  void log_start() const {
    const auto& tc = config_.train;
    const auto& dc = config_.distributed;
    spdlog::info("data: {}", dataset_->describe());
    spdlog::info("augment: {}", augment_.describe());
    int64_t n_params = 0;
    for (const auto& p : parameters_) n_params += p.numel();
    spdlog::info("model: {}, h dim {}, {:.2f}M parameters | {} {} | {} | {}", model_->encoder->summary(),
                 model_->encoder->feature_dim(), n_params / 1e6, device_.str(), to_string(precision_),
                 threads_.describe(), describe_compute());
    for (const auto& w : compute_warnings(comm_ ? comm_->local_world_size() : 1)) spdlog::warn("{}", w);
    if (comm_) {
      spdlog::info("data parallel: {} ranks x {} images = global batch {}; {} gradient buckets of {:g} MB; global "
                   "negatives {}, global batch norm {}; rank 0 writes the run directory",
                   world_, tc.batch_size / world_, tc.batch_size, gradient_averager_->bucket_count(), dc.bucket_mb,
                   dc.global_negatives ? "on" : "off", dc.sync_bn ? "on" : "off");
    }
    spdlog::info("schedule: peak lr {:.4g} ({} scaling), {} {} budget, {} batches per epoch{}", peak_lr_,
                 config_.optim.lr_scaling, budget_.given, budget_.unit(), per_epoch_,
                 resume_ ? fmt::format(", resuming at step {}", state_.step) : "");
    if (recipe_) spdlog::info("{}", recipe_->explanation);
    if (memory_) {
      spdlog::info("memory of negatives: the last {} projections, from a momentum copy of the model (m = {:g}); "
                   "{} filled",
                   memory_->size(), config_.model.momentum, memory_->filled());
    }
    if (micro_batching().enabled()) {
      const auto plan = plan_micro_batches(tc.batch_size / world_, micro_batching());
      spdlog::info("micro-batches: the loss of the whole batch of {} pairs{}, in {} forward passes of at most {} "
                   "images ({}), each run twice (docs/large-batches.md)",
                   tc.batch_size / world_, comm_ ? " per rank" : "", plan.size(), 2 * tc.micro_batch_size,
                   tc.micro_batch_mix_views ? "both views of each image together" : "one view per pass");
    }
  }

  // --- the loop -----------------------------------------------------------

  void train_loop() {
    live_ = main_rank_ && ::isatty(STDERR_FILENO) != 0;
    last_log_ = last_live_ = Clock::now();
    bool epoch_open = false;
    while (!budget_.done(state_)) {
      if (!epoch_open) {
        loader_->start_epoch(state_.epoch, state_.batch_in_epoch);
        epoch_open = true;
      }
      const auto t0 = Clock::now();
      auto batch = loader_->next();
      if (!batch) {  // the loader ran out: the epoch is over
        ++state_.epoch;
        state_.batch_in_epoch = 0;
        epoch_open = false;
        continue;
      }
      StepReport step = train_step(*batch, t0);
      if (step.epoch_ended) epoch_open = false;
      record_step(step);
      run_monitor(step);
      if (!comm_ && interrupted()) step.stop = true;  // a signal while recording or monitoring
      const bool save_now = config_.train.checkpoint_every > 0 && state_.step % config_.train.checkpoint_every == 0;
      if (save_now || step.stop) save();
      if (step.stop) {
        result_.interrupted = true;
        break;
      }
      log_progress(step);
    }
    if (live_) fmt::print(stderr, "\r\033[K");
  }

  // The optimizer step on one batch (started at t0, when the loader was
  // asked for it), then the run's position moved past it.
  StepReport train_step(const pipeline::ViewBatch& batch, Clock::time_point t0) {
    StepReport r;
    r.waited = std::chrono::duration<double>(Clock::now() - t0).count();
    r.epoch = batch.epoch;
    r.pairs = batch.view1.size(0) * world_;
    r.lr = optim::warmup_cosine(budget_.position(state_), budget_.total, budget_.warmup, peak_lr_);
    optimizer_->set_lr(r.lr);
    // Pinned (on CUDA), so the copy runs asynchronously on the current stream.
    auto x = batch.views.to(device_, /*non_blocking=*/batch.views.is_pinned());
    if (channels_last_) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    if (comm_) comm_->set_step(state_.step);
    torch::Tensor negatives;
    if (memory_) {
      memory_->begin_step(model_, x, precision_, device_, micro_batching(), comm_.get());
      negatives = memory_->negatives();
    }
    const auto out = forward_loss(model_, x, config_.loss, precision_, device_, parallel_, micro_batching(), negatives);
    r.loss = out.loss.item<double>();
    r.top1 = out.top1.item<double>();
    if (comm_) {  // the global batch's loss: the mean of the ranks' (equal-sized) losses
      const auto sums = comm_->sum({r.loss, r.top1});
      r.loss = sums[0] / world_;
      r.top1 = sums[1] / world_;
    }
    if (!std::isfinite(r.loss)) {
      throw DivergedError(fmt::format("the loss became {} at step {} (lr {:.4g}); lower --optim.lr_base or use "
                                      "--train.precision fp32. The last checkpoint in '{}' is intact: fix the "
                                      "setting and continue with --resume",
                                      r.loss, state_.step, r.lr, run_dir_),
                          state_.step);
    }
    if (!backward_and_step(out.loss, *optimizer_, scaler_, parameters_, parallel_)) {
      spdlog::warn("step {}: fp16 gradients overflowed; step skipped, loss scale lowered to {:g}", state_.step,
                   scaler_.scale());
    }
    if (memory_) memory_->commit();
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    signal_point("training");

    ++state_.step;
    ++state_.batch_in_epoch;
    if (state_.batch_in_epoch == per_epoch_) {  // close the epoch now so checkpoints point at the next one
      ++state_.epoch;
      state_.batch_in_epoch = 0;
      r.epoch_ended = true;
    }
    if (comm_) {
      // Every rank must agree on when the run ends: the mean step time feeds
      // wall-clock budgets, and a stop request on any rank stops them all.
      serialize::TrainState next = state_;
      next.elapsed_seconds += r.seconds;
      const auto sums = comm_->sum({r.seconds, (options_.stop && options_.stop(next)) || interrupted() ? 1.0 : 0.0});
      r.seconds = sums[0] / world_;
      r.stop = sums[1] > 0;
    }
    state_.elapsed_seconds += r.seconds;
    if (!comm_) r.stop = (options_.stop && options_.stop(state_)) || interrupted();
    // A signal ends the run after this step and a checkpoint: give the
    // watchdog room for both (a save takes about as long as a step here).
    longest_step_ = std::max(longest_step_, r.seconds);
    set_interrupt_grace_seconds(std::max(10.0, 4 * longest_step_ + 10));
    ++steps_here_;
    seconds_here_ += r.seconds;
    wait_here_ += r.waited;
    result_.step_seconds.push_back(r.seconds);
    result_.last_loss = r.loss;
    return r;
  }

  void record_step(const StepReport& r) {
    record({{"step", state_.step},
            {"epoch", r.epoch},
            {"loss", r.loss},
            {"lr", r.lr},
            {"contrastive_top1", r.top1},
            {"pairs_per_s", r.pairs / r.seconds},
            {"data_wait_s", r.waited},
            {"elapsed_s", state_.elapsed_seconds}});
  }

  // Every rank runs the monitor (only rank 0 writes it): were the others to
  // wait in their next collective instead, a monitor longer than
  // distributed.timeout_seconds would read as a dead rank 0.
  void run_monitor(StepReport& step) {
    if (!monitor_->due(state_.step, state_.epoch, step.epoch_ended, budget_.done(state_))) return;
    eval::FeatureOptions fo;
    fo.size = augment_.size;
    fo.batch_size = config_.eval.batch_size;
    fo.workers = threads_.loader_workers;
    fo.channels_last = channels_last_;
    fo.precision = precision_;
    try {
      record(monitor_->run(model_->encoder, fo, state_.step));
    } catch (const Interrupted&) {
      // A signal during the monitor: the step is done, so save it and stop.
      if (comm_) throw;  // the other ranks would wait for this one; its last checkpoint stands
      step.stop = true;
    }
  }

  // A live line rewritten in place on a terminal, and a full log line every
  // train.log_every_seconds (the only output when piped to a file).
  void log_progress(const StepReport& step) {
    const auto& tc = config_.train;
    const double since_log = std::chrono::duration<double>(Clock::now() - last_log_).count();
    const double since_live = std::chrono::duration<double>(Clock::now() - last_live_).count();
    const bool log_now = since_log >= tc.log_every_seconds || budget_.done(state_);
    if (!log_now && !(live_ && since_live >= 0.5)) return;
    const double rate = steps_here_ / seconds_here_;
    const double left = budget_.by_time ? budget_.total - state_.elapsed_seconds : (budget_.total - state_.step) / rate;
    const std::string line =
        fmt::format("step {}{} | epoch {} | loss {:.4f} | top1 {:.3f} | lr {:.4g} | {:.1f} pairs/s | ETA {}",
                    state_.step, budget_.by_time ? "" : fmt::format("/{:.0f}", budget_.total), step.epoch, step.loss,
                    step.top1, step.lr, rate * tc.batch_size, format_duration(left));
    if (live_) fmt::print(stderr, "\r\033[K{}", log_now ? "" : line);
    if (log_now) {
      spdlog::info("{}", line);
      last_log_ = Clock::now();
      // The first batch includes the workers' start; judge from step 20 on.
      const double wait_share = wait_here_ / seconds_here_;
      if (steps_here_ >= 20 && wait_share > 0.1 && !warned_starving_) {
        spdlog::warn("the model waited for data {:.0f}% of the time: the loader is the bottleneck; raise "
                     "--data.workers (now {})",
                     100 * wait_share, threads_.loader_workers);
        warned_starving_ = true;
      }
    }
    last_live_ = Clock::now();
  }

  // A metrics line that cannot be written stops the run: a run whose log
  // has holes would mislead whoever reads it later. Rank 0 only.
  void record(const nlohmann::json& line) {
    if (!main_rank_) return;
    try {
      metrics_.append(line.dump() + "\n");
    } catch (const WriteError& e) {
      throw WriteError(fmt::format("{}. The run stops at step {}; {}", e.what(), state_.step,
                                   saved_step_ >= 0
                                       ? fmt::format("its checkpoint of step {} in '{}' is intact: free space and "
                                                     "continue with --resume",
                                                     saved_step_, run_dir_)
                                       : std::string("it has no checkpoint yet")),
                       e.error_number);
    }
  }

  void save() {
    if (!main_rank_) return;
    torch::serialize::OutputArchive memory;
    if (memory_) memory_->save(memory);
    serialize::save_checkpoint(checkpoint_path_, config_, model_, *optimizer_, state_, input_, keep_previous_,
                               memory_ ? &memory : nullptr);
    keep_previous_ = true;
    saved_step_ = state_.step;
  }

  // --- the end ------------------------------------------------------------

  // The last checkpoint (an interrupted run saved its own), and what this
  // invocation did.
  PretrainResult finish() {
    if (!result_.interrupted) save();
    result_.signal = interrupt_signal();
    result_.state = state_;
    result_.mean_pairs_per_s = seconds_here_ > 0 ? steps_here_ * config_.train.batch_size / seconds_here_ : 0;
    result_.data_wait_fraction = seconds_here_ > 0 ? wait_here_ / seconds_here_ : 0;
    if (comm_ && steps_here_ > 0) {
      const auto traffic = comm_->traffic();
      result_.payload_bytes_per_step = static_cast<double>(traffic.payload_bytes) / steps_here_;
      result_.sent_bytes_per_step = static_cast<double>(traffic.sent_bytes) / steps_here_;
      spdlog::info("data parallel: {:.2f} MB of tensors all-reduced or gathered per step ({:.2f} MB sent by this "
                   "rank with ring algorithms), {} collectives per step",
                   result_.payload_bytes_per_step / 1e6, result_.sent_bytes_per_step / 1e6,
                   traffic.collectives / steps_here_);
    }
    return result_;
  }

  // Inputs.
  config::Config config_;
  const std::string run_dir_;
  const PretrainOptions& options_;
  std::shared_ptr<distributed::Communicator> comm_;
  const bool main_rank_;
  const int world_;
  const bool resume_;
  const std::string checkpoint_path_, metrics_path_;

  // Set-up (rank 0's run directory, then every rank's compute, model and data).
  std::unique_ptr<io::RunLock> lock_;
  std::unique_ptr<serialize::CheckpointReader> reader_;
  std::vector<config::Change> changes_;
  ThreadPlan threads_;
  torch::Device device_ = torch::kCPU;
  Precision precision_ = Precision::kFp32;
  bool channels_last_ = false;
  std::shared_ptr<data::Dataset> dataset_;
  augment::AugmentOptions augment_;
  serialize::InputContract input_;
  models::SimclrModel model_{nullptr};
  std::unique_ptr<optim::Lars> optimizer_;
  LossScaler scaler_{false};
  std::vector<torch::Tensor> parameters_;
  std::unique_ptr<distributed::GradientAverager> gradient_averager_;
  models::SimclrModel momentum_model_{nullptr};
  std::unique_ptr<NegativeMemory> memory_;  // loss.queue_size > 0
  Parallel parallel_;
  std::unique_ptr<pipeline::ContrastiveLoader> loader_;
  int64_t per_epoch_ = 0;
  Budget budget_;
  double peak_lr_ = 0;
  std::optional<RecipeChoice> recipe_;  // chosen when the run started (not on resume)
  std::unique_ptr<KnnMonitor> monitor_;

  // The run's position and files.
  serialize::TrainState state_;
  AppendFile metrics_;
  int64_t saved_step_ = -1;  // the step of the checkpoint on disk, -1 before the first
  bool keep_previous_;

  // This invocation's progress.
  int64_t steps_here_ = 0;
  double longest_step_ = 0, seconds_here_ = 0, wait_here_ = 0;
  bool warned_starving_ = false, live_ = false;
  Clock::time_point last_log_, last_live_;
  PretrainResult result_;
};

}  // namespace

PretrainResult pretrain(config::Config config, const std::string& run_dir, const PretrainOptions& options,
                        std::shared_ptr<distributed::Communicator> comm) {
  return PretrainRun(std::move(config), run_dir, options, std::move(comm)).run();
}

}  // namespace simclr::train

// Pretraining checkpoints: one file holding the resolved config, the model
// (encoder + head), the optimizer state and the position in the run. Written
// atomically (io/atomic_file.h): an interrupted write leaves the previous
// checkpoint intact.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <string>

#include "simclr/config/config.h"
#include "simclr/models/simclr_model.h"
#include "simclr/optim/lars.h"

namespace simclr::serialize {

// Where a run is: the next step to run and the next batch of the current
// epoch. The data order and augmentations derive from (seed, epoch, index),
// so this position is all the random state a run needs to resume exactly.
struct TrainState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch_in_epoch = 0;
  double elapsed_seconds = 0;  // training time so far, for wall-clock budgets
};

constexpr const char* kCheckpointFile = "checkpoint.pt";
// The checkpoint before the latest, kept by every save: a latest checkpoint
// damaged on disk (it fails its CRCs when read) still leaves a run that
// `simclr pretrain --resume --resume-previous` continues.
constexpr const char* kPreviousCheckpointFile = "checkpoint.previous.pt";

// What the encoder was trained on: evaluation on other data is refused
// before any computation (channels), or warned about (image side).
struct InputContract {
  int64_t channels = 0;  // 0: unknown (checkpoints written before simclr recorded it)
  int64_t image_size = 0;
};

// Writes `path` atomically; with `keep_previous` the file it replaces stays
// as kPreviousCheckpointFile next to it. `negative_memory`, when the run has
// one (loss.queue_size, train/negative_memory.h), is stored beside the model.
void save_checkpoint(const std::string& path, const config::Config& config, models::SimclrModel& model,
                     const optim::Lars& optimizer, const TrainState& state, const InputContract& input,
                     bool keep_previous = true, torch::serialize::OutputArchive* negative_memory = nullptr);

class CheckpointReader {
 public:
  // Accepts a checkpoint file or a run directory holding checkpoint.pt.
  explicit CheckpointReader(const std::string& path_or_run_dir);
  const std::string& path() const { return path_; }
  const config::Config& config() const { return config_; }
  const TrainState& state() const { return state_; }
  const InputContract& input() const { return input_; }
  void load_model(models::SimclrModel& model);
  void load_optimizer(optim::Lars& optimizer);
  // The memory of negatives saved with the run into `out`; false if it has none.
  bool read_negative_memory(torch::serialize::InputArchive& out);

 private:
  std::string path_;
  torch::serialize::InputArchive archive_;
  config::Config config_;
  TrainState state_;
  InputContract input_;
};

}  // namespace simclr::serialize

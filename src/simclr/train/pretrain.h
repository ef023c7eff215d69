// `simclr pretrain`: the SimCLR training loop (paper Algorithm 1).
//
// Writes into the run directory: config.yaml (the resolved config),
// metrics.jsonl (one JSON object per step: step, epoch, loss, lr,
// contrastive_top1, pairs_per_s, elapsed_s) and checkpoint.pt (every
// train.checkpoint_every steps and at the end, atomically).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "simclr/config/config.h"
#include "simclr/core/error.h"
#include "simclr/distributed/communicator.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::train {

struct PretrainResult {
  serialize::TrainState state;
  double last_loss = 0;
  double mean_pairs_per_s = 0;  // over this invocation's steps
  double data_wait_fraction = 0;  // share of step time spent waiting for the loader
  bool interrupted = false;     // stopped early by `stop` or a signal; resumable
  int signal = 0;               // the signal that stopped it (SIGINT, SIGTERM), 0 otherwise
  bool already_complete = false;  // resumed a finished run with no more budget: nothing ran, no file changed
  std::vector<double> step_seconds;  // each step of this invocation: wall time, loader wait included
  std::string checkpoint;
  config::Config config;  // what the run trained with: the recipe's choices in place of "auto"
  // Distributed runs: what this rank exchanged per training step, on
  // average (tensor sizes, and bytes sent by the ring algorithms).
  double payload_bytes_per_step = 0, sent_bytes_per_step = 0;
};

// The loss became NaN or infinite: the run diverged (too high a learning
// rate, or an unstable variant such as no l2 normalisation). A simclr::Error,
// so the CLI reports it like any other; the ablation runner records it.
class DivergedError : public Error {
 public:
  DivergedError(const std::string& what, int64_t step) : Error(what), step(step) {}
  int64_t step;
};

// Asked after every step; returning true saves a checkpoint and stops the
// run early (the CLI's signal handler, or a test stopping at a given step).
using StopRequest = std::function<bool(const serialize::TrainState&)>;

// How `pretrain` starts. A resume compares the config it is given (or, with
// `apply_overrides`, the checkpoint's config with the overrides applied) to
// the checkpoint's before anything is written:
// - keys the weights depend on (model.*, data.dataset, data.path,
//   data.unlabeled, augment.image_size) can never change;
// - keys that change what the run means mid-way (batch size, optimizer,
//   learning rate, loss, augmentations, seed, precision) change only when
//   listed in `allow_changes` (or "all"), and are then logged and recorded
//   in resumes.jsonl;
// - the budget and operational keys (threads, workers, logging, the kNN
//   monitor, checkpoint interval) change freely; a new budget is logged.
struct PretrainOptions {
  bool resume = false;
  bool resume_previous = false;  // resume from checkpoint.previous.pt (the latest is damaged)
  std::function<void(config::Config&)> apply_overrides;  // resume: the command line on top of the saved config
  std::vector<std::string> allow_changes;
  StopRequest stop;
  std::string command = "simclr pretrain";  // names the holder of the run directory's lock
};

// Refuses what a resume must not change (see PretrainOptions), naming each
// key with its saved and its new value; returns the changes it accepts.
std::vector<config::Change> check_resume_changes(const config::Config& saved, const config::Config& requested,
                                                 const std::vector<std::string>& allow_changes,
                                                 const std::string& run_dir);

// Runs (or with `resume`, continues) the run in `run_dir`.
// Throws simclr::Error on bad input or a non-finite loss; the last checkpoint
// on disk is then left as it was.
//
// With a communicator of several ranks this is one rank of a data-parallel
// run: every rank calls it with the same run_dir. train.batch_size is the
// global batch; each rank takes its slice of it, the gradients, negatives
// and batch-norm statistics are shared (distributed.*), and rank 0 alone
// reads and writes the run directory: it broadcasts its config, the
// weights and optimizer state (fresh or resumed) and the run's position, so
// a run resumes with any number of ranks that divides the batch.
//
// The run directory is locked for the whole call (io/run_lock.h): a second
// process on it fails at once, naming the holder.
PretrainResult pretrain(config::Config config, const std::string& run_dir, const PretrainOptions& options,
                        std::shared_ptr<distributed::Communicator> comm = nullptr);
PretrainResult pretrain(config::Config config, const std::string& run_dir, bool resume,
                        const StopRequest& stop = {}, std::shared_ptr<distributed::Communicator> comm = nullptr);

}  // namespace simclr::train

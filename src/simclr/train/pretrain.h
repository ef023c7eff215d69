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
#include "simclr/io/checkpoint.h"

namespace simclr::train {

struct PretrainResult {
  io::TrainState state;
  double last_loss = 0;
  double mean_pairs_per_s = 0;  // over this invocation's steps
  double data_wait_fraction = 0;  // share of step time spent waiting for the loader
  bool interrupted = false;     // stopped early by `stop`; resumable
  std::vector<double> step_seconds;  // each step of this invocation: wall time, loader wait included
  std::string checkpoint;
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
using StopRequest = std::function<bool(const io::TrainState&)>;

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
PretrainResult pretrain(config::Config config, const std::string& run_dir, bool resume,
                        const StopRequest& stop = {}, std::shared_ptr<distributed::Communicator> comm = nullptr);

}  // namespace simclr::train

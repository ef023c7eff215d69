// The one configuration object of simclr. Defaults live here; a YAML file and
// then command-line overrides change them; validate() runs once at start and
// names the key and the allowed values in every message. The resolved config
// is printed, saved in the run directory and stored in every checkpoint.
//
// Every key is reachable the same three ways: YAML `section: {key: value}`,
// the command line `--section.key value`, and `set("section.key", "value")`.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "simclr/augment/augment_config.h"
#include "simclr/core/text.h"
#include "simclr/data/data_options.h"
#include "simclr/loss/loss_options.h"
#include "simclr/models/model_options.h"
#include "simclr/optim/optim_options.h"

namespace YAML {
class Node;
}

namespace simclr::config {

// The sections that configure one component are that component's own
// options structs, held here under their config names.
using DataConfig = data::DataOptions;
using AugmentConfig = augment::AugmentConfig;
using ModelConfig = models::ModelOptions;
using LossConfig = loss::LossOptions;
using OptimConfig = optim::OptimOptions;

struct TrainConfig {
  int64_t batch_size = 256;
  int64_t epochs = 100;  // exactly one of epochs, steps, minutes is > 0;
                         // setting one clears the others
  int64_t steps = 0;
  double minutes = 0;
  int64_t threads = 0;  // LibTorch intra-op threads; 0 = all cores
  int64_t seed = 0;
  int64_t checkpoint_every = 100;  // steps; a checkpoint is also written at the end
  double log_every_seconds = 30;  // full progress log lines (plus a live line on a terminal)
  std::string device = "auto";     // auto | cpu | cuda
  std::string precision = "auto";  // auto | fp32 | bf16 | fp16 (CUDA)
  bool channels_last = true;
  // The convolutions' backward pass: auto = a GEMM where LibTorch 1.13's
  // oneDNN kernels are slow (models/conv2d.h), onednn = LibTorch's always.
  std::string conv_backward = "auto";
  // Where the unset lr, warm-up, temperature and weight decay come from:
  // auto | paper (train/recipe.h).
  std::string recipe = "auto";
  // The exact loss of the whole batch in forward passes of at most this many
  // pairs' worth of images (the gradient cache, train/micro_batch.h); 0 = one
  // pass. Per rank in a data-parallel run.
  int64_t micro_batch_size = 0;
  bool micro_batch_mix_views = false;  // a pass holds both views of its images (shared batch-norm statistics)
};

struct EvalConfig {
  int64_t batch_size = 512;
  std::string weight_decays = "0,1e-6,1e-5,1e-4,1e-3";  // L2 grid, chosen on a held-out 10%
  int64_t max_iter = 500;                              // L-BFGS iterations
  std::string feature_layer = "h";  // h | head1..head{L-1} | z: where frozen features are read
  bool cache_features = true;       // keep extracted features next to the checkpoint
  int64_t knn_k = 200;              // weighted kNN (Wu et al. 2018)
  double knn_temperature = 0.1;
  int64_t knn_every_steps = 0;      // online kNN monitor during pretraining (0 = off)
  int64_t knn_every_epochs = 0;     // ... or at the end of every N-th epoch (0 = off)
  int64_t knn_monitor_train = 10000;  // images of the labeled train split in the monitor's bank
  int64_t knn_monitor_test = 2000;    // test images the monitor classifies
  // A dataset without a test split (a flat image folder, one CSV list) is
  // refused by the evaluations unless this says to score on the training
  // images; such results are marked "test_split": "train".
  bool test_on_train = false;
  // Embeddings and other files that leave the program are computed in fp32
  // unless asked otherwise ("auto": the training precision, bf16 on CPUs
  // that have it); the precision is recorded beside them.
  std::string output_precision = "fp32";
};

// Semi-supervised fine-tuning of the whole encoder on a class-balanced
// fraction of the labels (paper section 6, SimCLRv2 from a head layer).
struct FinetuneConfig {
  double label_fraction = 0.1;
  int64_t epochs = 0;           // 0 = the paper's: 60 for <= 1% of the labels, else 30
  int64_t batch_size = 64;
  double lr = 0.05;             // momentum SGD (Nesterov), cosine decay
  double momentum = 0.9;
  double weight_decay = 0;
  std::string from_layer = "h";  // h | head1..head{L-1}: the classifier's input (SimCLRv2: head1)
  double crop_scale_min = 0.08;  // light augmentation: random resized crop + flip
};

// Data-parallel training over c10d (Gloo on CPU, NCCL on CUDA). The ranks
// come from the launcher's environment (torchrun, Slurm or RANK/WORLD_SIZE
// by hand, see distributed/launch.h); these keys say how they cooperate.
struct DistributedConfig {
  std::string backend = "auto";   // auto (nccl on CUDA, else gloo) | gloo | nccl
  double timeout_seconds = 30;    // a rank that stops answering for this long ends the run
  bool sync_bn = true;            // batch-norm statistics over the global batch (paper's global BN)
  bool global_negatives = true;   // NT-Xent against the projections of every rank
  double bucket_mb = 25;          // gradient all-reduce bucket size (as PyTorch DDP)
};

struct Config {
  DataConfig data;
  AugmentConfig augment;
  ModelConfig model;
  LossConfig loss;
  OptimConfig optim;
  TrainConfig train;
  EvalConfig eval;
  FinetuneConfig finetune;
  DistributedConfig distributed;
};

// One entry of the key table: where the value lives, what it means, what is allowed.
struct Field {
  using Ref = std::variant<int64_t*, double*, bool*, std::string*, std::optional<double>*>;
  std::string key;   // "section.name"
  Ref ref;
  std::string help;
  std::vector<std::string> choices;  // strings: the allowed values
  std::optional<double> min, max;    // numbers: the allowed closed range
};

std::vector<Field> fields(Config& config);

// Value of a field as text ("auto" for an unset optional).
std::string to_string(const Field& field);

// Sets one key from text; throws simclr::Error naming the key on a bad key or value.
// The training budgets (train.epochs, train.steps, train.minutes) are
// alternatives: setting one above 0 clears the others, so `--minutes 10`
// overrides a default or a config file's epochs. validate() then requires
// exactly one.
void set(Config& config, const std::string& key, const std::string& value);

// train.epochs, train.steps or train.minutes: the keys of the one budget.
bool is_budget_key(const std::string& key);

// Applies a YAML document (file contents); unknown sections or keys are errors.
void apply_yaml(Config& config, const std::string& yaml_text, const std::string& origin);
void load_yaml_file(Config& config, const std::string& path);

// Refuses a YAML map whose key repeats anywhere in `node`: yaml-cpp keeps
// every entry (a lookup sees the first, iteration both), so a repeated key
// would silently pick one value. `what` names the file in the message
// ("config 'x.yaml'", "grid file 'g.yaml'"); `where` is the dotted path of
// `node` ("" at the top).
void check_unique_yaml_keys(const YAML::Node& node, const std::string& what, const std::string& where = "");

std::string to_yaml(const Config& config);

// Keys whose values differ between two configs, in key-table order.
struct Change {
  std::string key, before, after;
};
std::vector<Change> diff(const Config& before, const Config& after);

// Checks every range and choice and the cross-key rules; throws simclr::Error.
void validate(const Config& config);

// Where features are read: "h" -> 0 head blocks, "headK" -> K, "z" -> all
// head_layers. Throws naming `key` for anything else.
int64_t feature_layer_blocks(const std::string& name, int64_t head_layers, const std::string& key);


// Parses a comma-separated list of non-negative numbers (e.g. eval.weight_decays).
std::vector<double> parse_list(const std::string& text, const std::string& key);

}  // namespace simclr::config

#include "simclr/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/data/dataset.h"
#include "simclr/loss/contrastive_loss.h"
#include "simclr/models/encoder.h"

namespace simclr::config {
namespace {

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

template <class T, class Fn>
Field make(std::string key, T* ref, std::string help, Fn&& more) {
  Field f{std::move(key), ref, std::move(help), {}, {}, {}};
  more(f);
  return f;
}
template <class T>
Field make(std::string key, T* ref, std::string help) {
  return make(std::move(key), ref, std::move(help), [](Field&) {});
}
auto range(std::optional<double> lo, std::optional<double> hi) {
  return [=](Field& f) { f.min = lo; f.max = hi; };
}
auto one_of(std::vector<std::string> choices) {
  return [=](Field& f) { f.choices = choices; };
}

double parse_double(const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  SIMCLR_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && std::isfinite(v),
               "config key '{}': '{}' is not a finite number", key, text);
  return v;
}

int64_t parse_int(const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  SIMCLR_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0,
               "config key '{}': '{}' is not a whole number", key, text);
  return v;
}

bool parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "0" || text == "no" || text == "off") return false;
  throw Error(fmt::format("config key '{}': '{}' is not a boolean (use true or false)", key, text));
}

std::string format_double(double v) {
  std::ostringstream s;
  s.precision(10);
  s << v;
  return s.str();
}

}  // namespace

void check_unique_yaml_keys(const YAML::Node& node, const std::string& what, const std::string& where) {
  if (node.IsSequence()) {
    for (const auto& item : node) check_unique_yaml_keys(item, what, where);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, int> lines;  // key -> line of its first entry (1-based)
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first);
    const std::string path = where.empty() ? key : where + "." + key;
    const auto [first, fresh] = lines.emplace(key, kv.first.Mark().line + 1);
    SIMCLR_CHECK(fresh, "{}: key '{}' is given twice (lines {} and {}); YAML keeps only one, so delete the other", what,
                 path, first->second, kv.first.Mark().line + 1);
    check_unique_yaml_keys(kv.second, what, path);
  }
}

std::vector<Field> fields(Config& c) {
  const std::optional<double> none;
  return {
      make("data.path", &c.data.path, "dataset location (file prefix folder or image root)"),
      make("data.dataset", &c.data.dataset, "dataset format", one_of(data::formats().names())),
      make("data.unlabeled", &c.data.unlabeled, "pretraining also uses the unlabeled split (STL-10)"),
      make("data.on_bad_image", &c.data.on_bad_image,
           "unreadable image file: stop (name it and exit) or skip (use the next readable file, count it in the log)",
           one_of({"stop", "skip"})),
      make("data.workers", &c.data.workers, "loader threads (0 = auto)", range(0, 256)),
      make("data.prefetch", &c.data.prefetch, "batches prepared ahead of the model", range(1, 64)),

      make("augment.pipeline", &c.augment.pipeline,
           "operations in the order they run, any subset of: " + augment::ops().joined_names() + " (none = only resize)"),
      make("augment.pipeline_view2", &c.augment.pipeline_view2,
           "the second view's operations (same = as augment.pipeline); e.g. crop for the paper's one-branch ablations"),
      make("augment.preset", &c.augment.preset,
           "per-dataset defaults: cifar (s=0.5, no blur); stl10, imagenet (s=1, blur p=0.5); auto = cifar for <=64 px",
           one_of({"auto", "cifar", "stl10", "imagenet"})),
      make("augment.image_size", &c.augment.image_size, "side of the augmented views (0 = the dataset's)", range(0, 4096)),
      make("augment.crop_scale_min", &c.augment.crop_scale_min, "random resized crop: smallest area fraction", range(1e-4, 1)),
      make("augment.crop_scale_max", &c.augment.crop_scale_max, "random resized crop: largest area fraction", range(1e-4, 1)),
      make("augment.crop_ratio_min", &c.augment.crop_ratio_min, "random resized crop: smallest aspect ratio", range(0.01, 100)),
      make("augment.crop_ratio_max", &c.augment.crop_ratio_max, "random resized crop: largest aspect ratio", range(0.01, 100)),
      make("augment.flip_p", &c.augment.flip_p, "horizontal flip probability", range(0, 1)),
      make("augment.color_strength", &c.augment.color_strength, "colour jitter strength s (auto = preset)", range(0, 10)),
      make("augment.color_p", &c.augment.color_p, "colour jitter probability", range(0, 1)),
      make("augment.grayscale_p", &c.augment.grayscale_p, "random greyscale probability", range(0, 1)),
      make("augment.blur_p", &c.augment.blur_p, "Gaussian blur probability (auto = preset)", range(0, 1)),
      make("augment.blur_kernel_fraction", &c.augment.blur_kernel_fraction, "blur kernel side as a fraction of the image side",
           range(0.0, 1.0)),
      make("augment.blur_sigma_min", &c.augment.blur_sigma_min, "blur sigma lower bound", range(1e-3, 100)),
      make("augment.blur_sigma_max", &c.augment.blur_sigma_max, "blur sigma upper bound", range(1e-3, 100)),

      make("augment.solarize_p", &c.augment.solarize_p, "solarization probability", range(0, 1)),
      make("augment.solarize_threshold", &c.augment.solarize_threshold, "solarize values >= threshold (1 - x)",
           range(0, 1)),
      make("augment.cutout_p", &c.augment.cutout_p, "cutout probability", range(0, 1)),
      make("augment.cutout_size", &c.augment.cutout_size, "cutout square side as a fraction of the view side",
           range(0, 1)),
      make("augment.rotate_p", &c.augment.rotate_p, "rotation (90, 180 or 270 degrees) probability", range(0, 1)),
      make("augment.noise_p", &c.augment.noise_p, "Gaussian noise probability", range(0, 1)),
      make("augment.noise_std", &c.augment.noise_std, "Gaussian noise standard deviation", range(0, 10)),
      make("augment.sobel_p", &c.augment.sobel_p, "Sobel edge filter probability", range(0, 1)),

      make("model.arch", &c.model.arch, "encoder", one_of(models::encoders().names())),
      make("model.width", &c.model.width, "channels of the first stage (64 = standard ResNet, 128 = 2x)", range(1, 1024)),
      make("model.stem", &c.model.stem, "cifar = 3x3 conv, no max-pool; auto = cifar for <=64 px",
           one_of({"auto", "cifar", "imagenet"})),
      make("model.patch_size", &c.model.patch_size, "ViT patch side (0 = auto: 4 for <=64 px, else 16)", range(0, 1024)),
      make("model.head_layers", &c.model.head_layers,
           "projection head layers (2 = Linear-BN-ReLU-Linear, 1 = linear, 0 = none: z = h)", range(0, 8)),
      make("model.head_hidden", &c.model.head_hidden, "head hidden width (0 = encoder output dimension)", range(0, 65536)),
      make("model.head_dim", &c.model.head_dim, "projection dimension of z", range(1, 65536)),
      make("model.momentum", &c.model.momentum,
           "EMA decay of the momentum model that fills loss.queue_size's memory of negatives", range(0, 0.999999)),
      make("model.init_weights", &c.model.init_weights,
           "start the encoder from a PyTorch state dict (torch.save) or TorchScript file, torchvision names"),

      make("loss.name", &c.loss.name, "contrastive loss (paper Table 2)", one_of(loss::losses().names())),
      make("loss.temperature", &c.loss.temperature, "temperature tau of NT-Xent, NT-Logistic, DCL and DCLW (auto = the recipe's)",
           range(1e-4, 100)),
      make("loss.normalize", &c.loss.normalize, "l2-normalise z before the similarities (false: raw dot products)"),
      make("loss.margin", &c.loss.margin, "margin m of the margin triplet loss", range(0, 100)),
      make("loss.queue_size", &c.loss.queue_size,
           "extra negatives from a memory of earlier batches, embedded by a momentum copy of the model (SimCLRv2); "
           "0 = none; NT-Xent only",
           range(0, 1 << 24)),
      make("loss.dcl_sigma", &c.loss.dcl_sigma, "sigma of DCLW's von Mises-Fisher weight on the positives",
           range(1e-3, 100)),
      make("loss.semi_hard", &c.loss.semi_hard,
           "semi-hard negative mining for nt_logistic and margin (negatives farther than the positive)"),

      make("optim.optimizer", &c.optim.optimizer, "optimizer", one_of({"lars", "sgd"})),
      make("optim.lr_scaling", &c.optim.lr_scaling,
           "lr from batch: linear = base*B/256, sqrt = base*sqrt(B) (auto = the recipe's)",
           one_of({"auto", "linear", "sqrt"})),
      make("optim.lr_base", &c.optim.lr_base, "base learning rate (auto = the recipe's, docs/recipes.md)",
           range(1e-8, 100)),
      make("optim.lr_warmup_fraction", &c.optim.lr_warmup_fraction, "linear warm-up share of the budget, then cosine (auto = the recipe's)",
           range(0, 1)),
      make("optim.momentum", &c.optim.momentum, "momentum", range(0, 0.9999)),
      make("optim.weight_decay", &c.optim.weight_decay, "weight decay, not on BN and bias (auto = the recipe's)", range(0, 1)),
      make("optim.lars_trust", &c.optim.lars_trust, "LARS trust coefficient eta", range(1e-8, 1)),

      make("train.batch_size", &c.train.batch_size, "images per step (2x views)", range(2, 1 << 20)),
      make("train.epochs", &c.train.epochs, "budget in epochs", range(0, none)),
      make("train.steps", &c.train.steps, "budget in optimizer steps", range(0, none)),
      make("train.minutes", &c.train.minutes, "budget in wall-clock minutes", range(0, none)),
      make("train.recipe", &c.train.recipe,
           "unset lr, warm-up, temperature and weight decay: auto = chosen for the run's budget and batch "
           "(docs/recipes.md), paper = the paper's values",
           one_of({"auto", "paper"})),
      make("train.threads", &c.train.threads, "LibTorch threads (0 = all cores)", range(0, 1024)),
      make("train.seed", &c.train.seed, "seed of weights, shuffling and augmentation", range(0, none)),
      make("train.checkpoint_every", &c.train.checkpoint_every, "steps between checkpoints (0 = only at the end)",
           range(0, none)),
      make("train.log_every_seconds", &c.train.log_every_seconds, "seconds between logged progress lines", range(0, none)),
      make("train.device", &c.train.device, "compute device (auto = cuda when LibTorch sees a GPU)",
           one_of({"auto", "cpu", "cuda"})),
      make("train.precision", &c.train.precision, "compute precision (auto = bf16 where the CPU has it; fp16 with loss scaling on CUDA)",
           one_of({"auto", "fp32", "bf16", "fp16"})),
      make("train.channels_last", &c.train.channels_last, "channels-last memory format for convolutions"),
      make("train.micro_batch_size", &c.train.micro_batch_size,
           "pairs per forward pass (0 = the whole batch in one): the exact loss of the whole batch, with the "
           "memory of one micro-batch and a second forward pass (docs/large-batches.md)",
           range(0, 1 << 20)),
      make("train.micro_batch_mix_views", &c.train.micro_batch_mix_views,
           "a micro-batch holds both views of its images, whose batch-norm statistics then meet (off: one view "
           "per micro-batch)"),
      make("train.conv_backward", &c.train.conv_backward,
           "convolution backward pass: auto = one GEMM on the small maps where LibTorch 1.13's oneDNN is slow (bf16, "
           "AMX), onednn = LibTorch's own everywhere",
           one_of({"auto", "onednn"})),

      make("distributed.backend", &c.distributed.backend, "c10d backend (auto = nccl on CUDA, gloo on CPU)",
           one_of({"auto", "gloo", "nccl"})),
      make("distributed.timeout_seconds", &c.distributed.timeout_seconds,
           "seconds a silent or dead rank may hold up the others before every rank stops with its name",
           range(1, 86400)),
      make("distributed.sync_bn", &c.distributed.sync_bn, "batch-norm statistics over all ranks (global BN)"),
      make("distributed.global_negatives", &c.distributed.global_negatives,
           "NT-Xent negatives from every rank's projections (off: each rank's own batch only)"),
      make("distributed.bucket_mb", &c.distributed.bucket_mb, "gradient all-reduce bucket size in MB",
           range(0.001, 4096)),

      make("eval.batch_size", &c.eval.batch_size, "images per feature-extraction batch", range(1, 1 << 20)),
      make("eval.weight_decays", &c.eval.weight_decays, "linear probe L2 grid, chosen on a held-out 10% of train"),
      make("eval.max_iter", &c.eval.max_iter, "linear probe L-BFGS iterations", range(1, 100000)),
      make("eval.feature_layer", &c.eval.feature_layer,
           "frozen features from h (encoder), headK (after K hidden head blocks) or z (head output)"),
      make("eval.cache_features", &c.eval.cache_features, "cache extracted features next to the checkpoint"),
      make("eval.knn_k", &c.eval.knn_k, "neighbours of the weighted kNN classifier", range(1, 100000)),
      make("eval.knn_temperature", &c.eval.knn_temperature, "kNN weight exp(similarity / T)", range(1e-4, 100)),
      make("eval.knn_every_steps", &c.eval.knn_every_steps, "online kNN monitor in pretraining every N steps (0 = off)",
           range(0, none)),
      make("eval.knn_every_epochs", &c.eval.knn_every_epochs,
           "online kNN monitor at the end of every N-th pretraining epoch (0 = off)", range(0, none)),
      make("eval.knn_monitor_train", &c.eval.knn_monitor_train, "train images in the monitor's kNN bank",
           range(1, none)),
      make("eval.knn_monitor_test", &c.eval.knn_monitor_test, "test images the monitor classifies", range(1, none)),
      make("eval.test_on_train", &c.eval.test_on_train,
           "score on the training images when the dataset has no test split (results are marked so)"),
      make("eval.output_precision", &c.eval.output_precision,
           "precision of what leaves the program (embeddings): fp32, or the training precision with auto",
           one_of({"fp32", "bf16", "fp16", "auto"})),

      make("finetune.label_fraction", &c.finetune.label_fraction, "fraction of the labels, class-balanced, from the seed",
           range(1e-6, 1)),
      make("finetune.epochs", &c.finetune.epochs, "epochs over the labeled subset (0 = 60 for <=1%, else 30)",
           range(0, none)),
      make("finetune.batch_size", &c.finetune.batch_size, "images per fine-tuning step", range(1, 1 << 20)),
      make("finetune.lr", &c.finetune.lr, "peak learning rate (Nesterov momentum SGD, cosine decay)", range(1e-8, 100)),
      make("finetune.momentum", &c.finetune.momentum, "momentum", range(0, 0.9999)),
      make("finetune.weight_decay", &c.finetune.weight_decay, "weight decay (not on BN and bias)", range(0, 1)),
      make("finetune.from_layer", &c.finetune.from_layer, "classifier input: h or headK (SimCLRv2: head1)"),
      make("finetune.crop_scale_min", &c.finetune.crop_scale_min, "random resized crop smallest area fraction",
           range(1e-4, 1)),
  };
}

std::string to_string(const Field& field) {
  return std::visit(
      [](auto* p) -> std::string {
        using T = std::decay_t<decltype(*p)>;
        if constexpr (std::is_same_v<T, std::string>) return *p;
        else if constexpr (std::is_same_v<T, bool>) return *p ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t>) return std::to_string(*p);
        else if constexpr (std::is_same_v<T, double>) return format_double(*p);
        else return p->has_value() ? format_double(**p) : "auto";
      },
      field.ref);
}

bool is_budget_key(const std::string& key) {
  return key == "train.epochs" || key == "train.steps" || key == "train.minutes";
}

void set(Config& config, const std::string& key, const std::string& value) {
  auto all = fields(config);
  for (auto& f : all) {
    if (f.key != key) continue;
    std::visit(
        [&](auto* p) {
          using T = std::decay_t<decltype(*p)>;
          if constexpr (std::is_same_v<T, std::string>) *p = value;
          else if constexpr (std::is_same_v<T, bool>) *p = parse_bool(key, value);
          else if constexpr (std::is_same_v<T, int64_t>) *p = parse_int(key, value);
          else if constexpr (std::is_same_v<T, double>) *p = parse_double(key, value);
          else {
            if (value == "auto" || value == "null" || value == "~" || value.empty()) p->reset();
            else *p = parse_double(key, value);
          }
        },
        f.ref);
    // The budgets are alternatives (see config.h).
    if (is_budget_key(key) && parse_double(key, value) > 0) {
      if (key != "train.epochs") config.train.epochs = 0;
      if (key != "train.steps") config.train.steps = 0;
      if (key != "train.minutes") config.train.minutes = 0;
    }
    return;
  }
  std::vector<std::string> keys;
  for (auto& f : all) keys.push_back(f.key);
  throw Error(fmt::format("unknown config key '{}'; known keys: {}", key, join(keys)));
}

void apply_yaml(Config& config, const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("cannot parse config '{}': {}", origin, e.what()));
  }
  if (root.IsNull()) return;
  SIMCLR_CHECK(root.IsMap(), "config '{}': the top level must be a map of sections (data, augment, model, ...)", origin);
  check_unique_yaml_keys(root, fmt::format("config '{}'", origin));
  std::set<std::string> sections;
  for (auto& f : fields(config)) sections.insert(f.key.substr(0, f.key.find('.')));
  for (const auto& section : root) {
    const auto name = section.first.as<std::string>();
    SIMCLR_CHECK(sections.count(name), "config '{}': unknown section '{}'; known sections: {}", origin, name,
                 join({sections.begin(), sections.end()}));
    SIMCLR_CHECK(section.second.IsMap(), "config '{}': section '{}' must be a map of keys", origin, name);
    for (const auto& entry : section.second) {
      const auto key = name + "." + entry.first.as<std::string>();
      SIMCLR_CHECK(entry.second.IsScalar() || entry.second.IsNull(), "config '{}': key '{}' must be a single value",
                   origin, key);
      set(config, key, entry.second.IsNull() ? "auto" : entry.second.as<std::string>());
    }
  }
}

void load_yaml_file(Config& config, const std::string& path) {
  std::ifstream in(path);
  SIMCLR_CHECK(in.good(), "cannot open config file '{}': check the path", path);
  std::stringstream text;
  text << in.rdbuf();
  apply_yaml(config, text.str(), path);
}

std::string to_yaml(const Config& config) {
  auto copy = config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (auto& f : fields(copy)) {
    const auto dot = f.key.find('.');
    const auto s = f.key.substr(0, dot);
    if (s != section) {
      if (!section.empty()) out << YAML::EndMap;
      out << YAML::Key << s << YAML::Value << YAML::BeginMap;
      section = s;
    }
    out << YAML::Key << f.key.substr(dot + 1) << YAML::Value << to_string(f);
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void validate(const Config& config) {
  auto copy = config;
  for (auto& f : fields(copy)) {
    std::visit(
        [&](auto* p) {
          using T = std::decay_t<decltype(*p)>;
          if constexpr (std::is_same_v<T, std::string>) {
            if (!f.choices.empty()) {
              bool ok = false;
              for (auto& c : f.choices) ok |= (c == *p);
              SIMCLR_CHECK(ok, "config key '{}': '{}' is not allowed; choose one of: {}", f.key, *p, join(f.choices));
            }
          } else if constexpr (!std::is_same_v<T, bool>) {
            std::optional<double> v;
            if constexpr (std::is_same_v<T, std::optional<double>>) v = *p;
            else v = static_cast<double>(*p);
            if (!v) return;
            SIMCLR_CHECK(std::isfinite(*v), "config key '{}': the value must be finite", f.key);
            SIMCLR_CHECK(!f.min || *v >= *f.min, "config key '{}': {} is below the minimum {} ({})", f.key,
                         to_string(f), format_double(*f.min), f.help);
            SIMCLR_CHECK(!f.max || *v <= *f.max, "config key '{}': {} is above the maximum {} ({})", f.key,
                         to_string(f), format_double(*f.max), f.help);
          }
        },
        f.ref);
  }
  const auto& a = config.augment;
  SIMCLR_CHECK(a.crop_scale_min <= a.crop_scale_max, "augment.crop_scale_min ({}) must not exceed augment.crop_scale_max ({})",
               a.crop_scale_min, a.crop_scale_max);
  SIMCLR_CHECK(a.crop_ratio_min <= a.crop_ratio_max, "augment.crop_ratio_min ({}) must not exceed augment.crop_ratio_max ({})",
               a.crop_ratio_min, a.crop_ratio_max);
  SIMCLR_CHECK(a.blur_sigma_min <= a.blur_sigma_max, "augment.blur_sigma_min ({}) must not exceed augment.blur_sigma_max ({})",
               a.blur_sigma_min, a.blur_sigma_max);
  for (const std::string key : {"pipeline", "pipeline_view2"}) {
    const std::string& text = key == "pipeline" ? a.pipeline : a.pipeline_view2;
    if (key == "pipeline_view2" && text == "same") continue;
    for (const auto& op : split_names(text, "augment." + key)) {
      SIMCLR_CHECK(op == "none" || augment::ops().contains(op),
                   "config key 'augment.{}': unknown operation '{}'; choose from: {} (or none)", key, op,
                   augment::ops().joined_names());
    }
  }
  const auto& t = config.train;
  SIMCLR_CHECK(config.loss.queue_size == 0 || (config.loss.name == "nt_xent" && config.loss.normalize),
               "loss.queue_size {} works with loss.name nt_xent on normalised projections, not {} (normalize {}); "
               "set loss.queue_size 0 or loss.name nt_xent",
               config.loss.queue_size, config.loss.name, config.loss.normalize);
  SIMCLR_CHECK(t.micro_batch_size != 1,
               "config key 'train.micro_batch_size': 1 pair per pass leaves batch norm a single image per view; use 0 "
               "(off) or at least 2");
  const int budgets = (t.epochs > 0) + (t.steps > 0) + (t.minutes > 0);
  SIMCLR_CHECK(budgets == 1,
               "set exactly one training budget: train.epochs, train.steps or train.minutes (--epochs, --steps or "
               "--minutes); {} are set",
               budgets);
  // Budgets far beyond any run, so that a step count (epochs x batches per
  // epoch, optim::epoch_budget_steps) stays exact in int64 and in double, and
  // minutes convert to seconds without overflow.
  struct BudgetLimit {
    const char* key;
    double value;
    int64_t max;
    std::string text;
  };
  const int64_t ft_epochs = config.finetune.epochs;
  for (const auto& b : {
           BudgetLimit{"train.epochs", static_cast<double>(t.epochs), 1'000'000'000, std::to_string(t.epochs)},
           BudgetLimit{"train.steps", static_cast<double>(t.steps), 1'000'000'000'000, std::to_string(t.steps)},
           BudgetLimit{"train.minutes", t.minutes, 10'000'000, format_double(t.minutes)},
           BudgetLimit{"finetune.epochs", static_cast<double>(ft_epochs), 1'000'000, std::to_string(ft_epochs)}}) {
    SIMCLR_CHECK(b.value <= static_cast<double>(b.max),
                 "config key '{}': {} is above the maximum {}, a budget longer than any run whose step count would "
                 "overflow; give a smaller value",
                 b.key, b.text, b.max);
  }
  parse_list(config.eval.weight_decays, "eval.weight_decays");  // throws on a malformed grid
  feature_layer_blocks(config.eval.feature_layer, config.model.head_layers, "eval.feature_layer");
  const int64_t ft = feature_layer_blocks(config.finetune.from_layer, config.model.head_layers, "finetune.from_layer");
  SIMCLR_CHECK(ft == 0 || ft < config.model.head_layers, "config key 'finetune.from_layer': fine-tune from h or a hidden head "
               "layer (head1..head{}), not z", config.model.head_layers - 1);
}

int64_t feature_layer_blocks(const std::string& name, int64_t head_layers, const std::string& key) {
  if (name == "h") return 0;
  if (name == "z") return head_layers;
  int64_t k = -1;
  if (name.size() > 4 && name.rfind("head", 0) == 0 &&
      std::all_of(name.begin() + 4, name.end(), [](unsigned char c) { return std::isdigit(c); })) {
    k = std::stoll(name.substr(4));
  }
  SIMCLR_CHECK(k >= 1 && k < head_layers,
               "config key '{}': '{}' is not a layer of this model; use h, z{}", key, name,
               head_layers > 1 ? fmt::format(" or head1..head{} (the head has {} layers)", head_layers - 1, head_layers)
                               : std::string(" (the head has 1 layer, so no hidden one)"));
  return k;
}

std::vector<double> parse_list(const std::string& text, const std::string& key) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    SIMCLR_CHECK(b != std::string::npos, "config key '{}': empty item in '{}'", key, text);
    const double v = parse_double(key, item.substr(b, e - b + 1));
    SIMCLR_CHECK(v >= 0, "config key '{}': {} must not be negative", key, v);
    out.push_back(v);
  }
  SIMCLR_CHECK(!out.empty(), "config key '{}': give at least one value, e.g. 0,1e-4", key);
  return out;
}

std::vector<Change> diff(const Config& before, const Config& after) {
  auto a = before, b = after;
  const auto fa = fields(a), fb = fields(b);
  std::vector<Change> out;
  for (size_t i = 0; i < fa.size(); ++i) {
    const std::string va = to_string(fa[i]), vb = to_string(fb[i]);
    if (va != vb) out.push_back({fa[i].key, va, vb});
  }
  return out;
}

}  // namespace simclr::config

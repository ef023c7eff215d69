#include "simclr/eval/embed.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/eval/features.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/npy.h"
#include "simclr/core/precision.h"

namespace simclr::eval {

namespace {
std::string stem_of(const std::string& npy_path) {
  const bool npy = npy_path.size() > 4 && npy_path.compare(npy_path.size() - 4, 4, ".npy") == 0;
  return npy ? npy_path.substr(0, npy_path.size() - 4) : npy_path;
}
}  // namespace

std::string index_path_for(const std::string& npy_path) { return stem_of(npy_path) + ".index.csv"; }
std::string meta_path_for(const std::string& npy_path) { return stem_of(npy_path) + ".meta.json"; }

namespace {
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}
}  // namespace

EmbedResult embed(const config::Config& config, serialize::CheckpointReader* checkpoint, const std::string& split,
                  const std::string& npy_path) {
  SIMCLR_CHECK(split == "train" || split == "test", "--split must be train or test, not '{}'", split);
  SIMCLR_CHECK(!npy_path.empty(), "give --out FILE.npy");
  SIMCLR_CHECK(split == "train" || data::has_test_split(config.data),
               "'{}' ({}) has no test split: its 'test' images would be the training images; use --split train",
               config.data.path, config.data.dataset);
  const ThreadPlan threads = configure_threads(static_cast<int>(config.train.threads), static_cast<int>(config.data.workers));
  const auto which = split == "train" ? data::Split::kTrain : data::Split::kTest;
  auto dataset = data::open_dataset(config.data, which, /*with_unlabeled=*/true);
  EvalModel model = load_eval_model(config, checkpoint, *dataset);
  // What leaves the program is fp32 unless asked: bf16 features differ from
  // what the exported module computes in PyTorch by up to ~0.07.
  if (config.eval.output_precision != "auto") {
    model.precision = resolve_precision(config.eval.output_precision, model.device);
  }
  spdlog::info("embedding {} images of {} at {} ({})", dataset->size(), dataset->describe(), config.eval.feature_layer,
               model.source);
  const Features f = split_features(model, dataset, split, config, threads.loader_workers, "");
  EmbedResult r;
  r.rows = f.x.size(0);
  r.dim = f.x.size(1);
  r.npy_path = npy_path;
  r.index_path = index_path_for(npy_path);
  std::ostringstream index;
  index << "row,source,label\n";
  const auto labels = f.y.accessor<int64_t, 1>();
  for (int64_t i = 0; i < r.rows; ++i) {
    index << i << "," << csv_field(dataset->source(static_cast<size_t>(i))) << "," << labels[i] << "\n";
  }
  r.meta_path = meta_path_for(npy_path);
  r.precision = simclr::to_string(model.precision);
  const nlohmann::json meta = {{"rows", r.rows},
                               {"dim", r.dim},
                               {"dtype", "float32"},
                               {"computed_in", r.precision},
                               {"feature_layer", config.eval.feature_layer},
                               {"split", split},
                               {"dataset", config.data.dataset},
                               {"data", config.data.path},
                               {"source", model.source},
                               {"input", {{"channels", model.channels}, {"size", model.image_size}}}};
  io::write_npy(npy_path, f.x);
  write_text_atomically(r.index_path, index.str());
  write_text_atomically(r.meta_path, meta.dump(2) + "\n");
  return r;
}

}  // namespace simclr::eval

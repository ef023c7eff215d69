// `simclr embed`: images of a dataset split to embeddings (the frozen
// features of eval.feature_layer, h by default) in a NumPy .npy file, float32,
// one row per image in dataset order, plus an index CSV beside it
// (FILE.index.csv: row,source,label) mapping rows to files and labels, and
// FILE.meta.json: where they come from and how they were computed. They are
// computed in fp32 unless eval.output_precision asks otherwise, so they
// match what the exported TorchScript module gives in PyTorch.
#pragma once
#include <string>

#include "simclr/config/config.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::eval {

struct EmbedResult {
  int64_t rows = 0, dim = 0;
  std::string npy_path, index_path, meta_path;
  std::string precision;  // fp32, bf16 or fp16: what the features were computed in
};

// `split` is "train" or "test"; with data.unlabeled, "train" includes the
// unlabeled images (label -1).
EmbedResult embed(const config::Config& config, serialize::CheckpointReader* checkpoint, const std::string& split,
                  const std::string& npy_path);

// FILE.npy -> FILE.index.csv
std::string index_path_for(const std::string& npy_path);
// FILE.npy -> FILE.meta.json
std::string meta_path_for(const std::string& npy_path);

}  // namespace simclr::eval

// Frozen features for evaluation: the network in eval mode (BN uses its
// running statistics) under inference mode, on unaugmented images, read at
// the encoder output h (the protocol's default), after K hidden blocks of
// the projection head, or at z (to measure h against z, paper section 4.2).
#pragma once
#include <torch/torch.h>

#include "simclr/config/config.h"
#include "simclr/data/dataset.h"
#include "simclr/eval/eval_model.h"
#include "simclr/models/simclr_model.h"
#include "simclr/core/precision.h"

namespace simclr::eval {

struct Features {
  torch::Tensor x;  // [N, D] float32
  torch::Tensor y;  // [N] int64
};

struct FeatureOptions {
  int size = 32;            // input side the encoder was trained on
  int64_t head_blocks = 0;  // 0 = h; K = after K hidden head blocks; head layers = z
  int64_t batch_size = 512;
  int workers = 1;
  bool channels_last = true;
  Precision precision = Precision::kFp32;
};

// Restores the model's train/eval mode afterwards and never changes a
// parameter or buffer.
Features extract_features(models::SimclrModel& model, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options);

// The encoder alone (h).
Features extract_features(models::Encoder& encoder, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options);

// Features of one split as the evaluation commands want them: options from
// the config (eval.feature_layer, eval.batch_size, precision), and, when
// `cache_dir` is not empty and eval.cache_features is on, cached there in a
// file named by everything that determines the features (checkpoint file and
// its modification time, dataset, split, layer, size, precision), so a
// repeated evaluation loads them instead of recomputing.
Features split_features(EvalModel& model, std::shared_ptr<const data::Dataset> dataset, const std::string& split_name,
                        const config::Config& config, int workers, const std::string& cache_dir);

}  // namespace simclr::eval

// Frozen-encoder features for evaluation: the encoder in eval mode (BN uses
// its running statistics) under inference mode, on unaugmented images.
#pragma once
#include <torch/torch.h>

#include "simclr/data/dataset.h"
#include "simclr/models/resnet.h"
#include "simclr/train/precision.h"

namespace simclr::eval {

struct Features {
  torch::Tensor x;  // [N, D] float32
  torch::Tensor y;  // [N] int64
};

struct FeatureOptions {
  int size = 32;           // input side the encoder was trained on
  int64_t batch_size = 512;
  int workers = 1;
  bool channels_last = true;
  train::Precision precision = train::Precision::kFp32;
};

// Restores the encoder's train/eval mode afterwards and never changes a
// parameter or buffer.
Features extract_features(models::ResNet& encoder, std::shared_ptr<const data::Dataset> dataset,
                          const FeatureOptions& options);

}  // namespace simclr::eval

// `simclr finetune`: semi-supervised evaluation (paper section 6). The whole
// encoder, optionally with the first hidden layers of the projection head
// (SimCLRv2 fine-tunes from the first), plus a new linear classifier, is
// trained on a class-balanced fraction of the training labels drawn from the
// seed, with light augmentation (random resized crop + flip), by Nesterov
// momentum SGD with cosine decay; then scored on the test split. Without a
// checkpoint the same network starts from random weights: training from
// scratch on the same labels, the baseline.
#pragma once
#include <string>

#include "simclr/config/config.h"
#include "simclr/serialize/checkpoint.h"

namespace simclr::eval {

struct FinetuneResult {
  double top1 = 0, top5 = 0;  // test split, in [0, 1]
  double train_top1 = 0;      // on the labeled subset, last epoch (augmented)
  int64_t labeled = 0;        // images in the labeled subset
  int64_t epochs = 0, steps = 0;
  std::string from_layer;
  double seconds = 0;
  std::string test_split = "test";  // "train" under eval.test_on_train
};

FinetuneResult finetune(const config::Config& config, serialize::CheckpointReader* checkpoint);

}  // namespace simclr::eval

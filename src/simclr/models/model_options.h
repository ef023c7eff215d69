// The model section of the config (`model.*`): the encoder and the
// projection head. It is the models layer's own options struct; the config
// (config/config.h) holds it as its `model` section, so there is no copy.
#pragma once
#include <cstdint>
#include <string>

namespace simclr::models {

struct ModelOptions {
  std::string arch = "resnet18";  // an encoder of models::encoders(): resnet18/34/50, vit_tiny, vit_small
  int64_t width = 64;             // ResNets: channels of the first stage (64 = standard)
  std::string stem = "auto";      // ResNets: auto | cifar | imagenet
  int64_t patch_size = 0;         // ViTs: patch side; 0 = auto (4 for images of <= 64 px, else 16)
  int64_t head_layers = 2;        // Linear-BN-ReLU repeated, then Linear
  int64_t head_hidden = 0;        // 0 = the encoder's output dimension
  int64_t head_dim = 128;         // z dimension
  std::string init_weights;       // PyTorch state dict or TorchScript module to start the encoder from
  // The momentum copy of encoder and head that fills a memory of negatives
  // (loss.queue_size, train/negative_memory.h): theta_m <- m theta_m + (1 - m) theta.
  double momentum = 0.999;
};

}  // namespace simclr::models

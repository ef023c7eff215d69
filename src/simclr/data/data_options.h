// The data section of the config (`data.*`): which dataset, where, and how
// the loader reads it. The config (config/config.h) holds this struct as its
// `data` section.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace simclr::data {

struct DataOptions {
  std::string path = "/usr/share/datasets/fashion-mnist";
  std::string dataset = "fashion-mnist";  // see data::formats()
  bool unlabeled = false;                 // pretrain on train + unlabeled images (STL-10)
  std::string on_bad_image = "stop";      // stop | skip: what an unreadable image file does
  int64_t workers = 0;                    // loader threads; 0 = auto
  int64_t prefetch = 4;                   // batches decoded ahead
};

}  // namespace simclr::data

// `simclr augment-preview`: a PNG grid showing what the model will see. Row
// i is dataset image i: first the unaugmented image, then `views` augmented
// views drawn exactly as the loader draws them in epoch 0.
#pragma once
#include <string>

#include "simclr/config/config.h"

namespace simclr::pipeline {

struct PreviewResult {
  int rows = 0, cols = 0;  // grid size in tiles
  int width = 0, height = 0;  // PNG size in pixels
};

PreviewResult write_augment_preview(const config::Config& config, const std::string& png_path, int images, int views);

}  // namespace simclr::pipeline

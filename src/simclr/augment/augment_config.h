// The augment section of the config (`augment.*`), as the user writes it;
// augment::AugmentOptions (simclr_augment.h) is it resolved for one image
// side. The config (config/config.h) holds this struct as its `augment`
// section.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace simclr::augment {

// The operations' parameters, the same in the config and in the resolved
// options (AugmentOptions), so each is declared once.
struct AugmentParams {
  double crop_scale_min = 0.08;
  double crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0;
  double crop_ratio_max = 4.0 / 3.0;
  double flip_p = 0.5;
  double color_p = 0.8;
  double grayscale_p = 0.2;
  double blur_kernel_fraction = 0.1;
  double blur_sigma_min = 0.1;
  double blur_sigma_max = 2.0;
  double solarize_p = 0.2;  // BYOL's second view
  double solarize_threshold = 0.5;
  double cutout_p = 1.0;
  double cutout_size = 0.5;  // square side / view side
  double rotate_p = 1.0;     // by 90, 180 or 270 degrees
  double noise_p = 1.0;
  double noise_std = 0.1;
  double sobel_p = 1.0;
};

// SimCLR augmentations (paper appendix A). `pipeline` lists the operations in
// the order they run (any subset, any order; see augment::ops()). Unset
// optional values come from the preset: "cifar" (s=0.5, no blur), "stl10" and
// "imagenet" (s=1, blur p=0.5); "auto" = cifar for images of 64 px or less.
struct AugmentConfig : AugmentParams {
  std::string pipeline = "crop,flip,color,grey,blur";
  std::string pipeline_view2 = "same";  // the second view's pipeline ("same" = pipeline)
  std::string preset = "auto";  // auto | cifar | stl10 | imagenet
  int64_t image_size = 0;       // output side; 0 = the dataset's side
  std::optional<double> color_strength;  // s: brightness/contrast/saturation 0.8s, hue 0.2s
  std::optional<double> blur_p;
};

}  // namespace simclr::augment

// The SimCLR view generator. By default the paper's chain: random resized
// crop -> horizontal flip -> colour jitter (p, random order) -> random
// greyscale -> Gaussian blur (p). `augment.pipeline` composes any subset of
// the operations below in any order (the paper's augmentation ablations,
// BYOL-style solarization), each with its own probability and parameters.
// Parameters come from AugmentConfig with the per-dataset preset resolved:
// "cifar" (colour strength 0.5, no blur), "stl10" and "imagenet" (strength 1,
// blur p=0.5); "auto" picks cifar for images of 64 px or less (SIMCLR.md).
#pragma once
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "simclr/augment/augment_config.h"
#include "simclr/core/registry.h"
#include "simclr/core/rng.h"

namespace simclr::augment {

enum class Op { kCrop, kFlip, kColor, kGrey, kBlur, kSolarize, kCutout, kRotate, kNoise, kSobel };

// The operations augment.pipeline may name, in the order help lists them.
// A new operation: its Op, one line in the table (simclr_augment.cpp), and
// its case in SimclrAugment::apply and describe.
struct OpEntry {
  std::string name;
  std::string help;
  Op op;
};
const Registry<OpEntry>& ops();

// "crop,flip,color" -> ops, in order; names from ops().
// An empty string or "none" is the identity (views are only resized).
std::vector<Op> parse_pipeline(const std::string& text);
std::string to_string(Op op);

// AugmentConfig resolved for one image side: the operations parsed, the
// output side and the preset's values fixed.
struct AugmentOptions : AugmentParams {
  std::vector<Op> pipeline = {Op::kCrop, Op::kFlip, Op::kColor, Op::kGrey, Op::kBlur};
  // The second view's operations when they differ (the paper's Figure 5
  // ablations transform one branch only); unset = `pipeline`.
  std::optional<std::vector<Op>> pipeline_view2;
  int size = 32;  // output side
  double color_strength = 1.0;
  double blur_p = 0.5;

  // Resolves presets and "auto" values for images whose side is `image_side`.
  static AugmentOptions from_config(const AugmentConfig& config, int image_side);
  std::string describe() const;
};

// Blur kernel side for an image side: 10% of it, made odd (paper appendix A).
int blur_kernel_size(int side, double fraction);

class SimclrAugment {
 public:
  explicit SimclrAugment(AugmentOptions options) : options_(std::move(options)) {}
  // One random view of an 8-bit image (1 or 3 channels): float [0,1], size x size.
  // When the pipeline does not start with a crop, the image is first resized
  // as for evaluation (shorter side to size, centre crop). `view` 1 is the
  // second view of a pair, which uses pipeline_view2 when it is set.
  cv::Mat operator()(const cv::Mat& image_u8, Rng& rng, int view = 0) const;
  const AugmentOptions& options() const { return options_; }

 private:
  void apply(Op op, cv::Mat& image, Rng& rng) const;
  void color_jitter(cv::Mat& image, Rng& rng) const;
  AugmentOptions options_;
};

// The deterministic evaluation transform: resize the shorter side to `size`,
// centre crop size x size, to float [0,1].
cv::Mat eval_transform(const cv::Mat& image_u8, int size);

// Copies a float HxWxC image into `out`, a CxHxW float tensor (no allocation).
void copy_to_tensor(const cv::Mat& image, torch::Tensor out);

}  // namespace simclr::augment

#include "simclr/augment/simclr_augment.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>

#include "simclr/augment/transforms.h"
#include "simclr/core/error.h"
#include "simclr/core/text.h"

namespace simclr::augment {

const Registry<OpEntry>& ops() {
  static const Registry<OpEntry> registry(
      "augmentation", {
                          {"crop", "random resized crop (then resize to the view side)", Op::kCrop},
                          {"flip", "horizontal flip", Op::kFlip},
                          {"color", "colour jitter: brightness, contrast, saturation, hue", Op::kColor},
                          {"grey", "random greyscale", Op::kGrey},
                          {"blur", "Gaussian blur", Op::kBlur},
                          {"solarize", "solarization (BYOL)", Op::kSolarize},
                          {"cutout", "cutout of a square", Op::kCutout},
                          {"rotate", "rotation by 90, 180 or 270 degrees", Op::kRotate},
                          {"noise", "Gaussian noise", Op::kNoise},
                          {"sobel", "Sobel edge filter", Op::kSobel},
                      });
  return registry;
}

std::string to_string(Op op) {
  for (const auto& e : ops().entries()) {
    if (e.op == op) return e.name;
  }
  TORCH_INTERNAL_ASSERT(false, "augmentation op ", static_cast<int>(op), " is not in augment::ops()");
}

std::vector<Op> parse_pipeline(const std::string& text) {
  std::vector<Op> out;
  for (const auto& token : split_names(text, "augment.pipeline")) {
    if (token == "none") continue;
    const OpEntry* e = ops().find(token);
    SIMCLR_CHECK(e, "augment.pipeline: unknown operation '{}'; choose from: {} (or none)", token, ops().joined_names());
    out.push_back(e->op);
  }
  return out;
}

AugmentOptions AugmentOptions::from_config(const AugmentConfig& c, int image_side) {
  AugmentOptions o;
  o.pipeline = parse_pipeline(c.pipeline);
  if (c.pipeline_view2 != "same") o.pipeline_view2 = parse_pipeline(c.pipeline_view2);
  o.size = c.image_size > 0 ? static_cast<int>(c.image_size) : image_side;
  const bool small = c.preset == "cifar" || (c.preset == "auto" && o.size <= 64);
  static_cast<AugmentParams&>(o) = c;
  o.color_strength = c.color_strength.value_or(small ? 0.5 : 1.0);
  o.blur_p = c.blur_p.value_or(small ? 0.0 : 0.5);
  return o;
}

namespace {
std::string describe_ops(const AugmentOptions& o, const std::vector<Op>& ops) {
  if (ops.empty()) return " | no augmentation";
  std::string out;
  for (const Op op : ops) {
    switch (op) {
      case Op::kCrop:
        out += fmt::format(" | crop scale [{}, {}] ratio [{:.3f}, {:.3f}]", o.crop_scale_min, o.crop_scale_max,
                           o.crop_ratio_min, o.crop_ratio_max);
        break;
      case Op::kFlip: out += fmt::format(" | flip p={}", o.flip_p); break;
      case Op::kColor: out += fmt::format(" | colour s={} p={}", o.color_strength, o.color_p); break;
      case Op::kGrey: out += fmt::format(" | grey p={}", o.grayscale_p); break;
      case Op::kBlur:
        out += fmt::format(" | blur p={} kernel {} sigma [{}, {}]", o.blur_p,
                           blur_kernel_size(o.size, o.blur_kernel_fraction), o.blur_sigma_min, o.blur_sigma_max);
        break;
      case Op::kSolarize: out += fmt::format(" | solarize p={} threshold {}", o.solarize_p, o.solarize_threshold); break;
      case Op::kCutout: out += fmt::format(" | cutout p={} side {}", o.cutout_p, o.cutout_size); break;
      case Op::kRotate: out += fmt::format(" | rotate p={}", o.rotate_p); break;
      case Op::kNoise: out += fmt::format(" | noise p={} std {}", o.noise_p, o.noise_std); break;
      case Op::kSobel: out += fmt::format(" | sobel p={}", o.sobel_p); break;
    }
  }
  return out;
}
}  // namespace

std::string AugmentOptions::describe() const {
  std::string out = fmt::format("size {}{}", size, describe_ops(*this, pipeline));
  if (pipeline_view2) out += " || second view:" + describe_ops(*this, *pipeline_view2);
  return out;
}

int blur_kernel_size(int side, double fraction) {
  const int k = static_cast<int>(side * fraction);
  return std::max(1, k % 2 == 0 ? k + 1 : k);
}

void SimclrAugment::color_jitter(cv::Mat& image, Rng& rng) const {
  // torchvision ColorJitter(0.8s, 0.8s, 0.8s, 0.2s): each factor sampled, then
  // the four operations applied in a random order.
  const double s = options_.color_strength;
  const double b = 0.8 * s, c = 0.8 * s, sat = 0.8 * s, h = std::min(0.2 * s, 0.5);
  std::array<int, 4> order = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
  const double fb = rng.uniform(std::max(0.0, 1 - b), 1 + b);
  const double fc = rng.uniform(std::max(0.0, 1 - c), 1 + c);
  const double fs = rng.uniform(std::max(0.0, 1 - sat), 1 + sat);
  const double fh = rng.uniform(-h, h);
  for (int op : order) {
    switch (op) {
      case 0: if (b > 0) adjust_brightness(image, fb); break;
      case 1: if (c > 0) adjust_contrast(image, fc); break;
      case 2: if (sat > 0) adjust_saturation(image, fs); break;
      case 3: if (h > 0) adjust_hue(image, fh); break;
    }
  }
}

void SimclrAugment::apply(Op op, cv::Mat& image, Rng& rng) const {
  // Each op draws a fixed number of values whether or not it fires, so that
  // changing one probability does not reshuffle the draws of the others.
  const auto& o = options_;
  switch (op) {
    case Op::kCrop: {
      const CropBox box = sample_crop(image.rows, image.cols, o.crop_scale_min, o.crop_scale_max, o.crop_ratio_min,
                                      o.crop_ratio_max, rng);
      image = resized_crop(image, box, o.size);
      break;
    }
    case Op::kFlip:
      if (rng.bernoulli(o.flip_p)) hflip(image);
      break;
    case Op::kColor:
      if (rng.bernoulli(o.color_p)) color_jitter(image, rng);
      break;
    case Op::kGrey:
      if (rng.bernoulli(o.grayscale_p)) to_grayscale(image);
      break;
    case Op::kBlur: {
      const bool blur = rng.bernoulli(o.blur_p);
      const double sigma = rng.uniform(o.blur_sigma_min, o.blur_sigma_max);
      if (blur) gaussian_blur(image, blur_kernel_size(o.size, o.blur_kernel_fraction), sigma);
      break;
    }
    case Op::kSolarize:
      if (rng.bernoulli(o.solarize_p)) solarize(image, o.solarize_threshold);
      break;
    case Op::kCutout: {
      const bool fire = rng.bernoulli(o.cutout_p);
      const int cy = static_cast<int>(rng.below(static_cast<uint64_t>(image.rows)));
      const int cx = static_cast<int>(rng.below(static_cast<uint64_t>(image.cols)));
      if (fire) cutout(image, cy, cx, std::max(1, static_cast<int>(std::lround(o.cutout_size * o.size))));
      break;
    }
    case Op::kRotate: {
      const bool fire = rng.bernoulli(o.rotate_p);
      const int turns = 1 + static_cast<int>(rng.below(3));
      if (fire) rotate_quarter_turns(image, turns);
      break;
    }
    case Op::kNoise: {
      const bool fire = rng.bernoulli(o.noise_p);
      const uint64_t seed = rng.next_u64();
      if (fire) gaussian_noise(image, o.noise_std, seed);
      break;
    }
    case Op::kSobel:
      if (rng.bernoulli(o.sobel_p)) sobel_edges(image);
      break;
  }
}

cv::Mat SimclrAugment::operator()(const cv::Mat& image_u8, Rng& rng, int view) const {
  const auto& o = options_;
  const std::vector<Op>& ops = view == 1 && o.pipeline_view2 ? *o.pipeline_view2 : o.pipeline;
  size_t next = 0;
  cv::Mat image;
  if (!ops.empty() && ops.front() == Op::kCrop) {
    // Crop and resize in 8 bits (4x less memory traffic), then go to float.
    const CropBox box = sample_crop(image_u8.rows, image_u8.cols, o.crop_scale_min, o.crop_scale_max,
                                    o.crop_ratio_min, o.crop_ratio_max, rng);
    image = to_float(resized_crop(image_u8, box, o.size));
    next = 1;
  } else {
    image = eval_transform(image_u8, o.size);
  }
  for (; next < ops.size(); ++next) apply(ops[next], image, rng);
  return image;
}

cv::Mat eval_transform(const cv::Mat& image_u8, int size) {
  cv::Mat image = image_u8;
  if (image.rows != size || image.cols != size) {
    const double scale = static_cast<double>(size) / std::min(image.rows, image.cols);
    const int h = std::max(size, static_cast<int>(std::lround(image.rows * scale)));
    const int w = std::max(size, static_cast<int>(std::lround(image.cols * scale)));
    cv::Mat resized;
    cv::resize(image, resized, cv::Size(w, h), 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    image = resized(cv::Rect((w - size) / 2, (h - size) / 2, size, size));
  }
  return to_float(image);
}

void copy_to_tensor(const cv::Mat& image, torch::Tensor out) {
  const int c = image.channels(), h = image.rows, w = image.cols;
  TORCH_INTERNAL_ASSERT(image.depth() == CV_32F && out.is_contiguous() && out.size(0) == c && out.size(1) == h &&
                        out.size(2) == w);
  float* dst = out.data_ptr<float>();
  for (int y = 0; y < h; ++y) {
    const float* src = image.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      for (int k = 0; k < c; ++k) dst[(static_cast<size_t>(k) * h + y) * w + x] = src[x * c + k];
    }
  }
}

}  // namespace simclr::augment

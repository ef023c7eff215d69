#include "simclr/augment/transforms.h"

#include <c10/util/Exception.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "simclr/core/error.h"

namespace simclr::augment {
namespace {

void clamp01(cv::Mat& image) {
  cv::min(image, 1.0, image);
  cv::max(image, 0.0, image);
}

// Per-pixel grey of an RGB float image, one channel.
cv::Mat grey_of(const cv::Mat& rgb) {
  cv::Mat grey(rgb.rows, rgb.cols, CV_32FC1);
  for (int y = 0; y < rgb.rows; ++y) {
    const auto* p = rgb.ptr<cv::Vec3f>(y);
    auto* g = grey.ptr<float>(y);
    for (int x = 0; x < rgb.cols; ++x) g[x] = kGreyR * p[x][0] + kGreyG * p[x][1] + kGreyB * p[x][2];
  }
  return grey;
}

void blend_with(cv::Mat& image, const cv::Mat& other, double factor) {
  // factor * image + (1 - factor) * other, then clamp, as torchvision's _blend.
  cv::addWeighted(image, factor, other, 1.0 - factor, 0.0, image);
  clamp01(image);
}

}  // namespace

CropBox sample_crop(int height, int width, double scale_min, double scale_max, double ratio_min, double ratio_max,
                    Rng& rng) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale_min, scale_max);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = static_cast<int>(std::lround(std::sqrt(target_area * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target_area / aspect)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int top = static_cast<int>(rng.below(static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(rng.below(static_cast<uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < ratio_min) {
    h = static_cast<int>(std::lround(w / ratio_min));
  } else if (in_ratio > ratio_max) {
    w = static_cast<int>(std::lround(h * ratio_max));
  }
  h = std::clamp(h, 1, height);
  w = std::clamp(w, 1, width);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

cv::Mat resized_crop(const cv::Mat& image, const CropBox& box, int size) {
  TORCH_INTERNAL_ASSERT(box.top >= 0 && box.left >= 0 && box.top + box.height <= image.rows &&
                        box.left + box.width <= image.cols && box.height > 0 && box.width > 0);
  const cv::Mat roi = image(cv::Rect(box.left, box.top, box.width, box.height));
  if (box.width == size && box.height == size) return roi.clone();
  cv::Mat out;
  const bool shrinking = box.width > size && box.height > size;
  cv::resize(roi, out, cv::Size(size, size), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

void hflip(cv::Mat& image) { cv::flip(image, image, 1); }

void adjust_brightness(cv::Mat& image, double factor) {
  image *= factor;
  clamp01(image);
}

void adjust_contrast(cv::Mat& image, double factor) {
  const double mean = image.channels() == 3 ? cv::mean(grey_of(image))[0] : cv::mean(image)[0];
  cv::Mat other(image.size(), image.type(), cv::Scalar::all(mean));
  blend_with(image, other, factor);
}

void adjust_saturation(cv::Mat& image, double factor) {
  if (image.channels() != 3) return;  // a grey image has no saturation
  cv::Mat grey3;
  cv::cvtColor(grey_of(image), grey3, cv::COLOR_GRAY2RGB);
  blend_with(image, grey3, factor);
}

void adjust_hue(cv::Mat& image, double shift) {
  if (image.channels() != 3) return;  // a grey image has no hue
  cv::Mat hsv;
  cv::cvtColor(image, hsv, cv::COLOR_RGB2HSV);  // float: H in [0, 360)
  const float degrees = static_cast<float>(shift * 360.0);
  for (int y = 0; y < hsv.rows; ++y) {
    auto* p = hsv.ptr<cv::Vec3f>(y);
    for (int x = 0; x < hsv.cols; ++x) {
      float h = std::fmod(p[x][0] + degrees, 360.0f);
      p[x][0] = h < 0 ? h + 360.0f : h;
    }
  }
  cv::cvtColor(hsv, image, cv::COLOR_HSV2RGB);
  clamp01(image);
}

void to_grayscale(cv::Mat& image) {
  if (image.channels() != 3) return;
  cv::cvtColor(grey_of(image), image, cv::COLOR_GRAY2RGB);
}

void gaussian_blur(cv::Mat& image, int ksize, double sigma) {
  TORCH_INTERNAL_ASSERT(ksize % 2 == 1 && ksize > 0 && sigma > 0);
  if (ksize == 1) return;
  cv::GaussianBlur(image, image, cv::Size(ksize, ksize), sigma, sigma, cv::BORDER_REFLECT_101);
}

void solarize(cv::Mat& image, double threshold) {
  const float t = static_cast<float>(threshold);
  cv::Mat values = image.reshape(1);  // a view: every channel value as one float
  values.forEach<float>([t](float& v, const int*) {
    if (v >= t) v = 1.0f - v;
  });
}

void rotate_quarter_turns(cv::Mat& image, int quarter_turns) {
  switch (((quarter_turns % 4) + 4) % 4) {
    case 1: cv::rotate(image, image, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    case 2: cv::rotate(image, image, cv::ROTATE_180); break;
    case 3: cv::rotate(image, image, cv::ROTATE_90_CLOCKWISE); break;
    default: break;
  }
}

void cutout(cv::Mat& image, int cy, int cx, int side) {
  const int y0 = std::clamp(cy - side / 2, 0, image.rows), y1 = std::clamp(cy - side / 2 + side, 0, image.rows);
  const int x0 = std::clamp(cx - side / 2, 0, image.cols), x1 = std::clamp(cx - side / 2 + side, 0, image.cols);
  if (y1 > y0 && x1 > x0) image(cv::Rect(x0, y0, x1 - x0, y1 - y0)).setTo(cv::Scalar::all(0));
}

void gaussian_noise(cv::Mat& image, double std, uint64_t seed) {
  cv::Mat noise(image.size(), image.type());
  cv::RNG rng(seed);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(std));
  image += noise;
  clamp01(image);
}

void sobel_edges(cv::Mat& image) {
  const cv::Mat grey = image.channels() == 3 ? grey_of(image) : image;
  cv::Mat gx, gy, magnitude;
  cv::Sobel(grey, gx, CV_32F, 1, 0, 3, 1, 0, cv::BORDER_REFLECT_101);
  cv::Sobel(grey, gy, CV_32F, 0, 1, 3, 1, 0, cv::BORDER_REFLECT_101);
  cv::magnitude(gx, gy, magnitude);
  double max = 0;
  cv::minMaxLoc(magnitude, nullptr, &max);
  if (max > 0) magnitude /= max;  // a flat image stays black
  if (image.channels() == 3) {
    cv::cvtColor(magnitude, image, cv::COLOR_GRAY2RGB);
  } else {
    image = magnitude;
  }
}

cv::Mat to_float(const cv::Mat& image_u8) {
  cv::Mat out;
  image_u8.convertTo(out, CV_32F, 1.0 / 255.0);
  return out;
}

}  // namespace simclr::augment

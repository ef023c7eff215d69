// The SimCLR augmentations (Chen et al. 2020, appendix A), each a function of
// (image, parameters) plus a sampler of its parameters from an explicit Rng.
// Images are cv::Mat CV_32FC1 or CV_32FC3 (RGB) in [0, 1] unless stated.
// The formulas follow torchvision's tensor transforms so results can be
// compared with it directly (tests/augment_test.cpp).
#pragma once
#include <opencv2/core.hpp>

#include "simclr/core/rng.h"

namespace simclr::augment {

struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

// torchvision RandomResizedCrop.get_params: up to 10 tries of an area fraction
// uniform in [scale_min, scale_max] and a log-uniform aspect ratio, then a
// centre crop clamped to the ratio range as fallback.
CropBox sample_crop(int height, int width, double scale_min, double scale_max, double ratio_min, double ratio_max,
                    Rng& rng);

// Crops `box` and resizes to size x size (bilinear when enlarging, area
// averaging when shrinking, like an antialiased resize). Works on any depth.
cv::Mat resized_crop(const cv::Mat& image, const CropBox& box, int size);

void hflip(cv::Mat& image);

// ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
constexpr float kGreyR = 0.2989f, kGreyG = 0.587f, kGreyB = 0.114f;

void adjust_brightness(cv::Mat& image, double factor);  // x * f
void adjust_contrast(cv::Mat& image, double factor);    // f x + (1-f) mean(grey(x))
void adjust_saturation(cv::Mat& image, double factor);  // f x + (1-f) grey(x); no-op on grey images
void adjust_hue(cv::Mat& image, double shift);          // hue += shift (turns); no-op on grey images
void to_grayscale(cv::Mat& image);                      // keeps the channel count

// Gaussian blur with a ksize x ksize kernel (ksize odd) and reflect padding,
// as torchvision's gaussian_blur.
void gaussian_blur(cv::Mat& image, int ksize, double sigma);

// torchvision solarize: every value >= threshold becomes 1 - value.
void solarize(cv::Mat& image, double threshold);

// Rotates counter-clockwise by quarter_turns * 90 degrees, as torch.rot90 on
// the (H, W) dimensions and torchvision's rotate(img, 90 k) on square images.
void rotate_quarter_turns(cv::Mat& image, int quarter_turns);

// Cutout (DeVries & Taylor 2017): a side x side square centred at (cy, cx),
// clipped to the image, set to zero.
void cutout(cv::Mat& image, int cy, int cx, int side);

// Adds N(0, std^2) noise drawn from `seed` (cv::RNG), then clamps to [0, 1].
void gaussian_noise(cv::Mat& image, double std, uint64_t seed);

// Sobel edge magnitude of the grey image, sqrt(gx^2 + gy^2) with 3x3 kernels
// and reflect padding, divided by its maximum so edges span [0, 1]; written
// to every channel.
void sobel_edges(cv::Mat& image);

// 8-bit image to float in [0, 1].
cv::Mat to_float(const cv::Mat& image_u8);

}  // namespace simclr::augment

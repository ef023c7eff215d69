#include "simclr/pipeline/preview.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <fstream>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/data/dataset.h"
#include "simclr/io/atomic_file.h"

namespace simclr::pipeline {

PreviewResult write_augment_preview(const config::Config& config, const std::string& png_path, int images, int views) {
  SIMCLR_CHECK(images >= 1 && views >= 1, "augment-preview needs at least 1 image and 1 view, got {} and {}", images,
               views);
  auto dataset = data::open_dataset(config.data, data::Split::kTrain, true);
  const auto options = augment::AugmentOptions::from_config(config.augment, dataset->image_side());
  const augment::SimclrAugment augment(options);
  const int n = static_cast<int>(std::min<size_t>(static_cast<size_t>(images), dataset->size()));
  // Small images are enlarged (nearest neighbour) so each pixel stays visible.
  const int tile = options.size * std::max(1, 64 / options.size);
  const int gap = 2;
  PreviewResult r{n, views + 1, (views + 1) * (tile + gap) + gap, n * (tile + gap) + gap};
  cv::Mat grid(r.height, r.width, CV_8UC3, cv::Scalar(255, 255, 255));
  auto place = [&](const cv::Mat& image_float, int row, int col) {
    cv::Mat u8, rgb, big, bgr;
    image_float.convertTo(u8, CV_8U, 255.0);
    if (u8.channels() == 1) cv::cvtColor(u8, rgb, cv::COLOR_GRAY2RGB);
    else rgb = u8;
    cv::resize(rgb, big, cv::Size(tile, tile), 0, 0, cv::INTER_NEAREST);
    cv::cvtColor(big, bgr, cv::COLOR_RGB2BGR);
    bgr.copyTo(grid(cv::Rect(gap + col * (tile + gap), gap + row * (tile + gap), tile, tile)));
  };
  for (int i = 0; i < n; ++i) {
    // Images spread evenly over the dataset, so sorted folders show several classes.
    const size_t index = static_cast<size_t>(i) * dataset->size() / static_cast<size_t>(n);
    const auto sample = dataset->get(index);
    place(augment::eval_transform(sample.image, options.size), i, 0);
    Rng rng = pipeline::sample_rng(static_cast<uint64_t>(config.train.seed), 0, static_cast<int64_t>(index));
    // Columns alternate first and second views, as the loader draws them.
    for (int v = 0; v < views; ++v) place(augment(sample.image, rng, v % 2), i, v + 1);
  }
  std::vector<uint8_t> png;
  SIMCLR_CHECK(cv::imencode(".png", grid, png), "cannot encode the preview PNG");
  write_text_atomically(png_path, std::string(png.begin(), png.end()));
  return r;
}

}  // namespace simclr::pipeline

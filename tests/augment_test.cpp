#include "simclr/augment/simclr_augment.h"
#include "simclr/augment/transforms.h"
#include "test_util.h"

namespace simclr::augment {
namespace {
using testing::golden;

// Golden images are CHW float; OpenCV images are HWC.
cv::Mat mat_from_chw(const nlohmann::json& values, int c, int h, int w) {
  const auto v = values.get<std::vector<double>>();
  cv::Mat m(h, w, CV_32FC(c));
  for (int k = 0; k < c; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) m.ptr<float>(y)[x * c + k] = static_cast<float>(v[(k * h + y) * w + x]);
  return m;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.channels(), b.channels());
  return cv::norm(a, b, cv::NORM_INF);
}

class TorchvisionParity : public ::testing::Test {
 protected:
  const nlohmann::json& g = golden()["augment"];
  cv::Mat image() const { return mat_from_chw(g["image"], 3, 5, 6); }
  cv::Mat expected(const std::string& key, int c = 3) const { return mat_from_chw(g[key], c, 5, 6); }
};

TEST_F(TorchvisionParity, Brightness) {
  for (auto [key, f] : {std::pair{"brightness_1.3", 1.3}, {"brightness_0.6", 0.6}}) {
    auto im = image();
    adjust_brightness(im, f);
    EXPECT_LT(max_abs_diff(im, expected(key)), 1e-6) << key;
  }
}

TEST_F(TorchvisionParity, Contrast) {
  for (auto [key, f] : {std::pair{"contrast_1.4", 1.4}, {"contrast_0.5", 0.5}}) {
    auto im = image();
    adjust_contrast(im, f);
    EXPECT_LT(max_abs_diff(im, expected(key)), 1e-6) << key;
  }
  auto grey = mat_from_chw(g["grey"], 1, 5, 6);
  adjust_contrast(grey, 1.4);
  EXPECT_LT(max_abs_diff(grey, expected("grey_contrast_1.4", 1)), 1e-6);
}

TEST_F(TorchvisionParity, Saturation) {
  for (auto [key, f] : {std::pair{"saturation_1.5", 1.5}, {"saturation_0.3", 0.3}}) {
    auto im = image();
    adjust_saturation(im, f);
    EXPECT_LT(max_abs_diff(im, expected(key)), 1e-6) << key;
  }
}

TEST_F(TorchvisionParity, Hue) {
  for (auto [key, f] : {std::pair{"hue_0.1", 0.1}, {"hue_-0.25", -0.25}}) {
    auto im = image();
    adjust_hue(im, f);
    EXPECT_LT(max_abs_diff(im, expected(key)), 1e-4) << key;  // HSV round trip in float
  }
}

TEST_F(TorchvisionParity, GrayscaleFlipBlurCrop) {
  auto im = image();
  to_grayscale(im);
  EXPECT_LT(max_abs_diff(im, expected("grayscale")), 1e-6);
  im = image();
  hflip(im);
  EXPECT_EQ(max_abs_diff(im, expected("hflip")), 0.0);
  im = image();
  gaussian_blur(im, 3, 0.8);
  EXPECT_LT(max_abs_diff(im, expected("blur_3_0.8")), 1e-6);
  const auto& c = g["crop_resize"];
  const auto out = resized_crop(image(), {c["top"], c["left"], c["height"], c["width"]}, c["size"]);
  EXPECT_LT(max_abs_diff(out, mat_from_chw(c["out"], 3, 6, 6)), 1e-5);
}

TEST_F(TorchvisionParity, SolarizeAndRotate) {
  for (auto [key, t] : {std::pair{"solarize_0.5", 0.5}, {"solarize_0.3", 0.3}}) {
    auto im = image();
    solarize(im, t);
    EXPECT_LT(max_abs_diff(im, expected(key)), 1e-7) << key;
  }
  for (int k : {1, 2, 3}) {
    auto sq = mat_from_chw(g["square"], 3, 5, 5);
    rotate_quarter_turns(sq, k);
    EXPECT_EQ(max_abs_diff(sq, mat_from_chw(g["rotate_" + std::to_string(90 * k)], 3, 5, 5)), 0.0) << k;
  }
}

TEST(Augment, CutoutNoiseAndSobelFollowTheirDefinitions) {
  cv::Mat im(8, 8, CV_32FC3, cv::Scalar::all(0.5));
  cutout(im, 0, 7, 4);  // a 4x4 square centred near the top-right corner, clipped to rows 0-1, cols 5-7
  EXPECT_EQ(cv::countNonZero(im.reshape(1) == 0), 2 * 3 * 3);
  EXPECT_EQ(im.at<cv::Vec3f>(1, 7)[0], 0.0f);
  EXPECT_EQ(im.at<cv::Vec3f>(2, 7)[0], 0.5f);

  cv::Mat a(64, 64, CV_32FC1, cv::Scalar(0.5)), b = a.clone();
  gaussian_noise(a, 0.1, 7);
  gaussian_noise(b, 0.1, 7);
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);  // the seed fixes the noise
  cv::Scalar mean, stddev;
  cv::meanStdDev(a, mean, stddev);
  EXPECT_NEAR(mean[0], 0.5, 0.01);
  EXPECT_NEAR(stddev[0], 0.1, 0.01);

  // A vertical step edge: the magnitude peaks (1 after normalising) on the two
  // columns next to the step and is zero away from it.
  cv::Mat step(6, 6, CV_32FC3, cv::Scalar::all(0));
  step(cv::Rect(3, 0, 3, 6)).setTo(cv::Scalar::all(1));
  sobel_edges(step);
  EXPECT_FLOAT_EQ(step.at<cv::Vec3f>(2, 2)[1], 1.0f);
  EXPECT_FLOAT_EQ(step.at<cv::Vec3f>(2, 3)[2], 1.0f);
  EXPECT_FLOAT_EQ(step.at<cv::Vec3f>(2, 0)[0], 0.0f);
  cv::Mat flat(4, 4, CV_32FC1, cv::Scalar(0.3));
  sobel_edges(flat);
  EXPECT_EQ(cv::countNonZero(flat), 0);
}

TEST(Augment, PipelineIsParsedFromConfigNames) {
  EXPECT_EQ(parse_pipeline("crop, flip,color,grey,blur"), AugmentOptions().pipeline);
  EXPECT_EQ(parse_pipeline("solarize,crop"), (std::vector<Op>{Op::kSolarize, Op::kCrop}));
  EXPECT_TRUE(parse_pipeline("none").empty());
  EXPECT_TRUE(parse_pipeline("").empty());
  EXPECT_NE(testing::error_of([] { parse_pipeline("crop,jitter"); }).find("'jitter'"), std::string::npos);
  EXPECT_NE(testing::error_of([] { parse_pipeline("crop,,flip"); }).find("empty item"), std::string::npos);
  config::Config c;
  c.augment.pipeline = "crop,sobol";
  EXPECT_NE(testing::error_of([&] { config::validate(c); }).find("sobol"), std::string::npos);
}

cv::Mat random_u8(int rows, int cols, int channels, int seed) {
  cv::Mat m(rows, cols, CV_8UC(channels));
  cv::RNG(seed).fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

TEST(Augment, PipelineRunsTheListedOpsInOrder) {
  const cv::Mat u8 = random_u8(20, 30, 3, 1);
  AugmentOptions o;
  o.size = 16;
  // No operations: the evaluation resize only.
  o.pipeline = {};
  Rng rng(1);
  EXPECT_EQ(cv::norm(SimclrAugment(o)(u8, rng), eval_transform(u8, 16), cv::NORM_INF), 0.0);
  // Solarize then greyscale differs from greyscale then solarize, and each
  // equals the two ops applied by hand.
  o.solarize_p = 1;
  o.grayscale_p = 1;
  o.pipeline = {Op::kSolarize, Op::kGrey};
  Rng r1(2);
  const cv::Mat sg = SimclrAugment(o)(u8, r1);
  cv::Mat expect = eval_transform(u8, 16);
  solarize(expect, 0.5);
  to_grayscale(expect);
  EXPECT_LT(cv::norm(sg, expect, cv::NORM_INF), 1e-6);
  o.pipeline = {Op::kGrey, Op::kSolarize};
  Rng r2(2);
  EXPECT_GT(cv::norm(SimclrAugment(o)(u8, r2), sg, cv::NORM_INF), 0.1);
  // A probability of zero makes an op the identity.
  o.pipeline = {Op::kFlip, Op::kColor, Op::kGrey, Op::kBlur, Op::kSolarize, Op::kCutout, Op::kRotate, Op::kNoise,
                Op::kSobel};
  o.flip_p = o.color_p = o.grayscale_p = o.blur_p = o.solarize_p = o.cutout_p = o.rotate_p = o.noise_p = o.sobel_p = 0;
  Rng r3(3);
  EXPECT_EQ(cv::norm(SimclrAugment(o)(u8, r3), eval_transform(u8, 16), cv::NORM_INF), 0.0);
  // Every op fires with p = 1 and keeps the view's size and range.
  o.flip_p = o.color_p = o.grayscale_p = o.blur_p = o.solarize_p = o.cutout_p = o.rotate_p = o.noise_p = o.sobel_p = 1;
  o.pipeline.insert(o.pipeline.begin(), Op::kCrop);
  for (int seed = 0; seed < 20; ++seed) {
    Rng r(seed);
    const cv::Mat v = SimclrAugment(o)(u8, r);
    ASSERT_EQ(v.size(), cv::Size(16, 16));
    double lo, hi;
    cv::minMaxLoc(v.reshape(1), &lo, &hi);
    EXPECT_GE(lo, 0.0);
    EXPECT_LE(hi, 1.0);
  }
}

TEST(Augment, SecondViewCanHaveItsOwnPipeline) {
  // The paper's Figure 5 set-up: crop + the studied transformation on one
  // branch, crop alone on the other.
  config::AugmentConfig c;
  c.pipeline = "crop,color";
  c.pipeline_view2 = "crop";
  c.color_p = 1;
  const auto o = AugmentOptions::from_config(c, 16);
  ASSERT_TRUE(o.pipeline_view2.has_value());
  EXPECT_EQ(*o.pipeline_view2, std::vector<Op>{Op::kCrop});
  EXPECT_NE(o.describe().find("second view: | crop"), std::string::npos) << o.describe();
  const SimclrAugment augment(o);
  const cv::Mat u8 = random_u8(16, 16, 3, 4);
  // View 2 is a plain crop: exactly resized_crop with the box drawn from the same stream.
  Rng a(9), b(9);
  const cv::Mat v2 = augment(u8, a, 1);
  const CropBox box = sample_crop(16, 16, o.crop_scale_min, o.crop_scale_max, o.crop_ratio_min, o.crop_ratio_max, b);
  EXPECT_EQ(cv::norm(v2, to_float(resized_crop(u8, box, 16)), cv::NORM_INF), 0.0);
  Rng c1(9);
  EXPECT_GT(cv::norm(augment(u8, c1, 0), v2, cv::NORM_INF), 0.0);  // view 1 is colour-jittered
  c.pipeline_view2 = "same";
  EXPECT_FALSE(AugmentOptions::from_config(c, 16).pipeline_view2.has_value());
  config::Config bad;
  bad.augment.pipeline_view2 = "crop,blurr";
  EXPECT_NE(testing::error_of([&] { config::validate(bad); }).find("augment.pipeline_view2"), std::string::npos);
}

TEST(Augment, ExtremeImageSizesGiveValidViews) {
  AugmentOptions o;
  o.size = 32;
  o.pipeline = parse_pipeline("crop,flip,color,grey,blur,solarize");
  const SimclrAugment augment(o);
  for (auto [rows, cols] : {std::pair{1, 1}, {1, 500}, {300, 2}, {10000, 10000}}) {
    const cv::Mat u8 = rows * cols > 1000000 ? cv::Mat(rows, cols, CV_8UC3, cv::Scalar(10, 200, 30))
                                              : random_u8(rows, cols, 3, rows + cols);
    Rng rng(5);
    const cv::Mat v = augment(u8, rng);
    EXPECT_EQ(v.size(), cv::Size(32, 32)) << rows << "x" << cols;
    EXPECT_TRUE(cv::checkRange(v, true, nullptr, 0.0, 1.0 + 1e-6)) << rows << "x" << cols;
    const cv::Mat e = eval_transform(u8, 32);
    EXPECT_EQ(e.size(), cv::Size(32, 32)) << rows << "x" << cols;
  }
}

TEST(Augment, ColourOpsOnGreyImagesOnlyTouchBrightnessAndContrast) {
  cv::Mat grey(4, 4, CV_32FC1, cv::Scalar(0.4));
  grey.at<float>(0, 0) = 0.9f;
  const cv::Mat before = grey.clone();
  adjust_saturation(grey, 0.1);
  adjust_hue(grey, 0.3);
  to_grayscale(grey);
  EXPECT_EQ(cv::norm(grey, before, cv::NORM_INF), 0.0);
  adjust_brightness(grey, 2.0);
  EXPECT_FLOAT_EQ(grey.at<float>(1, 1), 0.8f);
  EXPECT_FLOAT_EQ(grey.at<float>(0, 0), 1.0f);  // clamped
}

TEST(Augment, CropSamplerRespectsScaleRatioAndBounds) {
  Rng rng(5);
  int inside_ranges = 0;
  const int n = 4000;
  double mean_scale = 0;
  for (int i = 0; i < n; ++i) {
    const auto b = sample_crop(96, 128, 0.08, 1.0, 3.0 / 4, 4.0 / 3, rng);
    ASSERT_GE(b.top, 0);
    ASSERT_GE(b.left, 0);
    ASSERT_LE(b.top + b.height, 96);
    ASSERT_LE(b.left + b.width, 128);
    const double scale = double(b.height) * b.width / (96.0 * 128);
    const double ratio = double(b.width) / b.height;
    mean_scale += scale / n;
    // Rounding to whole pixels moves scale and ratio slightly.
    inside_ranges += scale > 0.07 && scale <= 1.0 && ratio > 0.7 && ratio < 1.4;
  }
  EXPECT_GT(inside_ranges, n * 0.99);
  // Accepted draws favour small areas (large ones often do not fit), so the
  // mean lies below the uniform mean 0.54 but well above the minimum.
  EXPECT_GT(mean_scale, 0.35);
  EXPECT_LT(mean_scale, 0.56);
}

double decile(std::vector<double> v, int k) {
  // Linear interpolation between order statistics, as numpy.quantile.
  std::sort(v.begin(), v.end());
  const double pos = (v.size() - 1) * k / 10.0;
  const size_t i = static_cast<size_t>(pos);
  return v[i] + (pos - i) * (v[std::min(i + 1, v.size() - 1)] - v[i]);
}

TEST(Augment, CropSamplerMatchesTorchvisionDistribution) {
  // Deciles of area fraction and log aspect ratio against 20000 draws of
  // torchvision's RandomResizedCrop.get_params (golden). With 20000 draws the
  // sampling error of a decile is about 0.005; a wrong ratio law (uniform
  // instead of log-uniform) or a missing rejection step moves them by > 0.02.
  const auto& g = golden()["augment"]["crop_distribution"];
  const int h = g["height"], w = g["width"], n = g["n"];
  Rng rng(11);
  std::vector<double> scales, log_ratios;
  for (int i = 0; i < n; ++i) {
    const auto b = sample_crop(h, w, 0.08, 1.0, 3.0 / 4, 4.0 / 3, rng);
    scales.push_back(double(b.height) * b.width / (double(h) * w));
    log_ratios.push_back(std::log(double(b.width) / b.height));
  }
  for (int k = 1; k <= 9; ++k) {
    EXPECT_NEAR(decile(scales, k), g["scale_deciles"][k - 1].get<double>(), 0.015) << "scale decile " << k;
    EXPECT_NEAR(decile(log_ratios, k), g["log_ratio_deciles"][k - 1].get<double>(), 0.015) << "log-ratio decile " << k;
  }
}

TEST(Augment, CropFallsBackToCentreCropForExtremeImages) {
  Rng rng(1);
  const auto b = sample_crop(1, 1000, 0.9, 1.0, 3.0 / 4, 4.0 / 3, rng);
  EXPECT_EQ(b.height, 1);
  EXPECT_EQ(b.width, 1);  // clamped to the ratio range
  EXPECT_EQ(b.left, (1000 - 1) / 2);
}

TEST(Augment, ViewsHaveSizeRangeAndDependOnlyOnTheSeed) {
  AugmentOptions o;
  o.size = 24;
  o.blur_p = 0.5;
  SimclrAugment aug(o);
  cv::Mat image(40, 30, CV_8UC3);
  cv::randu(image, 0, 255);
  Rng a(42), b(42), c(43);
  const auto va = aug(image, a), vb = aug(image, b), vc = aug(image, c);
  EXPECT_EQ(va.rows, 24);
  EXPECT_EQ(va.cols, 24);
  EXPECT_EQ(va.channels(), 3);
  double lo, hi;
  cv::minMaxLoc(va.reshape(1), &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
  EXPECT_EQ(cv::norm(va, vb, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(va, vc, cv::NORM_INF), 0.0);
}

TEST(Augment, PresetsFollowThePaper) {
  config::AugmentConfig c;
  const auto small = AugmentOptions::from_config(c, 32);
  EXPECT_DOUBLE_EQ(small.color_strength, 0.5);
  EXPECT_DOUBLE_EQ(small.blur_p, 0.0);
  const auto large = AugmentOptions::from_config(c, 224);
  EXPECT_DOUBLE_EQ(large.color_strength, 1.0);
  EXPECT_DOUBLE_EQ(large.blur_p, 0.5);
  EXPECT_EQ(blur_kernel_size(224, 0.1), 23);
  c.blur_p = 0.1;
  EXPECT_DOUBLE_EQ(AugmentOptions::from_config(c, 32).blur_p, 0.1);
  // Named presets override the size rule: STL-10 (96 px) is ImageNet-like,
  // and a 96 px image with the cifar preset gets CIFAR's values.
  c.blur_p.reset();
  c.preset = "stl10";
  const auto stl = AugmentOptions::from_config(c, 96);
  EXPECT_DOUBLE_EQ(stl.color_strength, 1.0);
  EXPECT_DOUBLE_EQ(stl.blur_p, 0.5);
  EXPECT_EQ(blur_kernel_size(96, 0.1), 9);
  c.preset = "cifar";
  EXPECT_DOUBLE_EQ(AugmentOptions::from_config(c, 96).color_strength, 0.5);
  EXPECT_DOUBLE_EQ(AugmentOptions::from_config(c, 96).blur_p, 0.0);
}

TEST(Augment, CopyToTensorIsChannelFirst) {
  cv::Mat m(2, 3, CV_32FC3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) m.at<cv::Vec3f>(y, x) = cv::Vec3f(y, x, 7);
  auto t = torch::empty({3, 2, 3});
  copy_to_tensor(m, t);
  EXPECT_EQ(t[0][1][2].item<float>(), 1);
  EXPECT_EQ(t[1][1][2].item<float>(), 2);
  EXPECT_EQ(t[2][0][0].item<float>(), 7);
}

}  // namespace
}  // namespace simclr::augment

#include "simclr/config/config.h"

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr::config {
namespace {
using testing::error_of;

TEST(Config, DefaultsAreValidAndFollowThePaper) {
  Config c;
  EXPECT_NO_THROW(validate(c));
  EXPECT_EQ(c.model.arch, "resnet18");
  EXPECT_EQ(c.model.width, 64);
  EXPECT_EQ(c.model.head_dim, 128);
  EXPECT_DOUBLE_EQ(c.optim.weight_decay, 1e-6);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
  EXPECT_DOUBLE_EQ(c.optim.lars_trust, 0.001);
  EXPECT_DOUBLE_EQ(c.augment.crop_scale_min, 0.08);
  EXPECT_DOUBLE_EQ(c.augment.color_p, 0.8);
  EXPECT_DOUBLE_EQ(c.augment.grayscale_p, 0.2);
}

TEST(Config, UnknownKeyIsAnErrorThatListsKnownKeys) {
  Config c;
  const auto msg = error_of([&] { set(c, "optim.learning_rate", "0.1"); });
  EXPECT_NE(msg.find("optim.learning_rate"), std::string::npos);
  EXPECT_NE(msg.find("optim.lr_base"), std::string::npos);
  const auto yaml = error_of([&] { apply_yaml(c, "optim:\n  lr: 0.1\n", "test.yaml"); });
  EXPECT_NE(yaml.find("optim.lr"), std::string::npos);
  const auto section = error_of([&] { apply_yaml(c, "optimiser:\n  lr_base: 0.1\n", "test.yaml"); });
  EXPECT_NE(section.find("unknown section 'optimiser'"), std::string::npos);
}

TEST(Config, RangeErrorsNameTheKeyAndTheLimit) {
  Config c;
  set(c, "optim.lr_base", "-0.5");
  auto msg = error_of([&] { validate(c); });
  EXPECT_NE(msg.find("optim.lr_base"), std::string::npos) << msg;
  EXPECT_NE(msg.find("minimum"), std::string::npos) << msg;
  Config t;
  set(t, "loss.temperature", "0");
  msg = error_of([&] { validate(t); });
  EXPECT_NE(msg.find("loss.temperature"), std::string::npos) << msg;
}

TEST(Config, BadValuesAreRejectedAtParse) {
  Config c;
  EXPECT_NE(error_of([&] { set(c, "train.batch_size", "12abc"); }).find("train.batch_size"), std::string::npos);
  EXPECT_NE(error_of([&] { set(c, "loss.temperature", "nan"); }).find("finite"), std::string::npos);
  EXPECT_NE(error_of([&] { set(c, "train.channels_last", "maybe"); }).find("boolean"), std::string::npos);
  set(c, "model.arch", "vgg16");
  EXPECT_NE(error_of([&] { validate(c); }).find("resnet18, resnet34, resnet50"), std::string::npos);
}

TEST(Config, BudgetsAreAlternatives) {
  Config c;
  set(c, "train.minutes", "10");
  EXPECT_EQ(c.train.epochs, 0);
  EXPECT_NO_THROW(validate(c));
  c.train.steps = 5;
  EXPECT_NE(error_of([&] { validate(c); }).find("exactly one training budget"), std::string::npos);
}

TEST(Config, YamlRoundTrip) {
  Config a;
  apply_yaml(a, "model:\n  width: 32\n  stem: cifar\naugment:\n  blur_p: 0.25\n  color_strength: auto\n", "x");
  EXPECT_EQ(a.model.width, 32);
  EXPECT_EQ(*a.augment.blur_p, 0.25);
  EXPECT_FALSE(a.augment.color_strength.has_value());
  Config b;
  apply_yaml(b, to_yaml(a), "round trip");
  EXPECT_EQ(to_yaml(a), to_yaml(b));
}

TEST(Config, MalformedYamlNamesTheFile) {
  Config c;
  const auto msg = error_of([&] { apply_yaml(c, "model: [1, 2\n", "broken.yaml"); });
  EXPECT_NE(msg.find("broken.yaml"), std::string::npos);
  EXPECT_NE(error_of([&] { load_yaml_file(c, "/nonexistent/x.yaml"); }).find("/nonexistent/x.yaml"),
            std::string::npos);
}

TEST(Config, ParseList) {
  EXPECT_EQ(parse_list("0, 1e-4,0.5", "k"), (std::vector<double>{0, 1e-4, 0.5}));
  EXPECT_THROW(parse_list("0,,1", "k"), Error);
  EXPECT_THROW(parse_list("-1", "k"), Error);
}

}  // namespace
}  // namespace simclr::config

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
  // The recipe's keys are unset: a run fills them (train/recipe.h).
  EXPECT_FALSE(c.optim.weight_decay.has_value());
  EXPECT_FALSE(c.loss.temperature.has_value());
  EXPECT_EQ(c.optim.lr_scaling, "auto");
  EXPECT_EQ(c.train.recipe, "auto");
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

TEST(Config, RepeatedYamlKeysAreErrorsNamingTheKeyAndItsLines) {
  Config c;
  auto msg = error_of([&] { apply_yaml(c, "train:\n  steps: 5\n  seed: 1\n  steps: 7\n", "dup.yaml"); });
  EXPECT_NE(msg.find("config 'dup.yaml': key 'train.steps' is given twice (lines 2 and 4)"), std::string::npos) << msg;
  msg = error_of([&] { apply_yaml(c, "train:\n  steps: 5\nmodel:\n  width: 8\ntrain:\n  seed: 1\n", "dup.yaml"); });
  EXPECT_NE(msg.find("key 'train' is given twice (lines 1 and 5)"), std::string::npos) << msg;
  // The same key in two sections is no repeat.
  EXPECT_NO_THROW(apply_yaml(c, "eval:\n  batch_size: 8\nfinetune:\n  batch_size: 4\n", "ok.yaml"));
}

TEST(Config, BudgetsBeyondAnyRunAreRefusedWithTheMaximum) {
  const auto refusal = [](const std::string& key, const std::string& value) {
    Config c;
    set(c, key, value);
    return error_of([&] { validate(c); });
  };
  EXPECT_NE(refusal("train.steps", "1000000000001").find("'train.steps': 1000000000001 is above the maximum 1000000000000"),
            std::string::npos);
  EXPECT_NE(refusal("train.steps", "9223372036854775807").find("maximum 1000000000000"), std::string::npos);
  EXPECT_NE(refusal("train.epochs", "1000000001").find("'train.epochs': 1000000001 is above the maximum 1000000000"),
            std::string::npos);
  EXPECT_NE(refusal("train.minutes", "1e300").find("'train.minutes': 1e+300 is above the maximum 10000000"),
            std::string::npos);
  EXPECT_NE(refusal("finetune.epochs", "1000001").find("'finetune.epochs'"), std::string::npos);
  EXPECT_EQ(refusal("train.steps", "1000000000000"), "");  // the limits themselves are allowed
  EXPECT_EQ(refusal("train.epochs", "1000000000"), "");
  EXPECT_EQ(refusal("train.minutes", "10000000"), "");
}

TEST(Config, ParseList) {
  EXPECT_EQ(parse_list("0, 1e-4,0.5", "k"), (std::vector<double>{0, 1e-4, 0.5}));
  EXPECT_THROW(parse_list("0,,1", "k"), Error);
  EXPECT_THROW(parse_list("-1", "k"), Error);
}

}  // namespace
}  // namespace simclr::config

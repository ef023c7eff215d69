// The recipe: what a run uses for the keys the user left unset.
#include "simclr/train/recipe.h"

#include "simclr/train/pretrain.h"
#include "test_util.h"

namespace simclr::train {
namespace {
using namespace simclr::testing;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The row the table gives a run of `epochs` at a batch within its range.
const RecipeRow& row_for_epochs(double epochs) {
  for (const auto& row : recipe_table()) {
    if (epochs <= row.max_epochs) return row;
  }
  return paper_recipe();
}

RunFacts facts(int64_t batch, double epochs) {
  RunFacts f;
  f.batch_size = batch;
  f.train_images = 60000;
  f.epochs = epochs;
  return f;
}

TEST(Recipe, ShortRunsGetTheShortBudgetRowAndTheLineSaysWhy) {
  config::Config c;
  const auto choice = apply_recipe(c, facts(256, 4));
  const auto& row = row_for_epochs(4);
  EXPECT_NE(row.name, paper_recipe().name);
  EXPECT_EQ(choice.row.name, row.name);
  EXPECT_EQ(c.optim.lr_scaling, row.lr_scaling);
  EXPECT_DOUBLE_EQ(*c.optim.lr_base, row.lr_base);
  EXPECT_DOUBLE_EQ(*c.loss.temperature, row.temperature);
  EXPECT_DOUBLE_EQ(*c.optim.lr_warmup_fraction, row.lr_warmup_fraction);
  EXPECT_DOUBLE_EQ(*c.optim.weight_decay, row.weight_decay);
  EXPECT_DOUBLE_EQ(choice.peak_lr, row.lr_base * 16);  // sqrt(256)
  EXPECT_EQ(choice.chosen, recipe_keys());
  EXPECT_TRUE(choice.kept.empty());
  for (const char* part : {"peak lr", "temperature", "4 epochs at batch 256", "docs/recipes.md"}) {
    EXPECT_NE(choice.explanation.find(part), std::string::npos) << part << " in: " << choice.explanation;
  }
  config::validate(c);
}

TEST(Recipe, LongRunsAndLargeBatchesFallBackToThePaper) {
  for (const auto& f : {facts(256, 1000), facts(1 << 16, 2)}) {
    config::Config c;
    const auto choice = apply_recipe(c, f);
    EXPECT_EQ(choice.row.name, paper_recipe().name);
    EXPECT_DOUBLE_EQ(*c.loss.temperature, 0.5);
  }
}

TEST(Recipe, PaperGivesThePapersValuesAtEveryBudget) {
  for (double epochs : {0.5, 4.0, 100.0}) {
    config::Config c;
    c.train.recipe = "paper";
    const auto choice = apply_recipe(c, facts(256, epochs));
    EXPECT_EQ(c.optim.lr_scaling, "sqrt");
    EXPECT_DOUBLE_EQ(*c.optim.lr_base, 0.075);
    EXPECT_DOUBLE_EQ(*c.optim.lr_warmup_fraction, 0.1);
    EXPECT_DOUBLE_EQ(*c.loss.temperature, 0.5);
    EXPECT_DOUBLE_EQ(*c.optim.weight_decay, 1e-6);
    EXPECT_DOUBLE_EQ(choice.peak_lr, 0.075 * 16);
    EXPECT_NE(choice.explanation.find("paper"), std::string::npos);
  }
}

TEST(Recipe, PaperOnAMinutesBudgetDoesNotClaimZeroEpochs) {
  // A minutes budget with --recipe paper times no step (nothing depends on the epochs), so they stay unknown.
  config::Config c;
  c.train.recipe = "paper";
  const auto choice = apply_recipe(c, facts(256, 0.0));
  EXPECT_EQ(choice.explanation.find("0 epochs"), std::string::npos) << choice.explanation;
  EXPECT_NE(choice.explanation.find("epochs not estimated"), std::string::npos) << choice.explanation;
}

TEST(Recipe, ExplicitKeysAlwaysWin) {
  config::Config c;
  config::set(c, "loss.temperature", "0.7");
  config::set(c, "optim.weight_decay", "0");
  const auto choice = apply_recipe(c, facts(256, 4));
  EXPECT_DOUBLE_EQ(*c.loss.temperature, 0.7);
  EXPECT_DOUBLE_EQ(*c.optim.weight_decay, 0.0);
  EXPECT_EQ(choice.kept, (std::vector<std::string>{"loss.temperature", "optim.weight_decay"}));
  EXPECT_EQ(choice.chosen.size(), 3u);
  EXPECT_NE(choice.explanation.find("yours: loss.temperature, optim.weight_decay"), std::string::npos)
      << choice.explanation;
  EXPECT_DOUBLE_EQ(choice.to_json()["temperature"].get<double>(), 0.7);

  // A scaling the user chose keeps the row's peak learning rate at this batch.
  config::Config linear;
  config::set(linear, "optim.lr_scaling", "linear");
  const auto l = apply_recipe(linear, facts(1024, 4));
  EXPECT_EQ(linear.optim.lr_scaling, "linear");
  EXPECT_NEAR(l.peak_lr, row_for_epochs(4).lr_base * 32, 1e-12);  // sqrt(1024)
  EXPECT_NEAR(*linear.optim.lr_base * 1024 / 256, l.peak_lr, 1e-12);

  // Nothing left to choose: the line says so.
  config::Config all = linear;
  EXPECT_TRUE(apply_recipe(all, facts(1024, 4)).chosen.empty());
  EXPECT_FALSE(recipe_needs_speed(all));
}

TEST(Recipe, OnlyAMinutesBudgetWithSomethingToChooseNeedsTheSpeed) {
  config::Config c;
  EXPECT_FALSE(recipe_needs_speed(c));  // epochs
  config::set(c, "train.minutes", "5");
  EXPECT_TRUE(recipe_needs_speed(c));
  c.train.recipe = "paper";
  EXPECT_FALSE(recipe_needs_speed(c));
}

TEST(Recipe, UnsetKeysReadAsAutoAndAPlainConfigValidates) {
  config::Config c;
  for (auto& f : config::fields(c)) {
    for (const auto& key : recipe_keys()) {
      if (f.key == key) EXPECT_EQ(config::to_string(f), "auto") << key;
    }
  }
  config::validate(c);
  config::set(c, "train.recipe", "fast");
  EXPECT_NE(error_of([&] { config::validate(c); }).find("choose one of: auto, paper"), std::string::npos);
}

// A run saves what it chose: recipe.json, and config.yaml with the values in
// place of "auto", so a resume and every evaluation see the same numbers;
// --recipe paper trains exactly as the paper's values given by hand.
TEST(Recipe, PretrainSavesTheChoiceAndPaperEqualsThePapersValuesByHand) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.optim.lr_base.reset();
  config.train.steps = 3;
  config.train.recipe = "paper";
  pretrain(config, run / "paper", false);
  const auto saved = nlohmann::json::parse(read_file(run / "paper/recipe.json"));
  EXPECT_EQ(saved["recipe"], "paper");
  EXPECT_DOUBLE_EQ(saved["temperature"].get<double>(), 0.5);
  EXPECT_EQ(saved["chosen"].size(), recipe_keys().size());
  config::Config reread;
  config::load_yaml_file(reread, run / "paper/config.yaml");
  EXPECT_DOUBLE_EQ(*reread.loss.temperature, 0.5);
  EXPECT_DOUBLE_EQ(*reread.optim.lr_base, 0.075);

  auto by_hand = config;
  by_hand.train.recipe = "auto";
  by_hand.optim.lr_scaling = "sqrt";
  by_hand.optim.lr_base = 0.075;
  by_hand.optim.lr_warmup_fraction = 0.1;
  by_hand.optim.weight_decay = 1e-6;
  by_hand.loss.temperature = 0.5;
  pretrain(by_hand, run / "hand", false);
  serialize::CheckpointReader a(run / "paper"), b(run / "hand");
  auto ma = models::build_model(a.config().model, 1, 12), mb = models::build_model(b.config().model, 1, 12);
  a.load_model(ma);
  b.load_model(mb);
  const auto pa = ma->parameters(), pb = mb->parameters();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i])) << i;

  // A budget in minutes times a step first and says how many epochs it expects.
  auto timed = toy_config(data.str());
  timed.optim.lr_base.reset();
  config::set(timed, "train.minutes", "0.01");
  pretrain(timed, run / "timed", false);
  const auto t = nlohmann::json::parse(read_file(run / "timed/recipe.json"));
  EXPECT_GT(t["estimated_pairs_per_s"].get<double>(), 0);
  EXPECT_GT(t["epochs"].get<double>(), 0);
  EXPECT_NE(t["explanation"].get<std::string>().find("minutes"), std::string::npos);
}

}  // namespace
}  // namespace simclr::train

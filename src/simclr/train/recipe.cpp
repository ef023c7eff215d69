#include "simclr/train/recipe.h"

#include <fmt/format.h>

#include <cmath>

#include "simclr/core/error.h"
#include "simclr/optim/schedule.h"

namespace simclr::train {
namespace {

std::string format_number(double v) { return fmt::format("{:.3g}", v); }

bool unset(const config::Config& c, const std::string& key) {
  if (key == "optim.lr_base") return !c.optim.lr_base;
  if (key == "optim.lr_scaling") return c.optim.lr_scaling == "auto";
  if (key == "optim.lr_warmup_fraction") return !c.optim.lr_warmup_fraction;
  if (key == "loss.temperature") return !c.loss.temperature;
  if (key == "optim.weight_decay") return !c.optim.weight_decay;
  SIMCLR_CHECK(false, "'{}' is not a recipe key", key);
  return false;
}

const RecipeRow& row_for(const std::string& recipe, const RunFacts& f) {
  if (recipe == "paper") return paper_recipe();
  for (const auto& row : recipe_table()) {
    if (f.epochs <= row.max_epochs && static_cast<double>(f.batch_size) <= row.max_batch) return row;
  }
  return paper_recipe();
}

}  // namespace

// Measured in docs/recipes.md, which gives each row's screen and command.
// Short budgets want a higher peak learning rate and a lower temperature than
// the paper's, whose values were tuned for 100 epochs and more.
const std::vector<RecipeRow>& recipe_table() {
  static const std::vector<RecipeRow> table = {
      {"very short budget", 2.5, 1024, 0.3, "sqrt", 0.1, 0.2, 1e-6, "docs/recipes.md: the 1.2-epoch screen"},
      // Up to 16 epochs: screened at 4, compared end to end against the paper row at 13.3 (30 minutes).
      {"short budget", 16, 1024, 0.6, "sqrt", 0.1, 0.2, 1e-6,
       "docs/recipes.md: the 4-epoch screen, 2 seeds, and the 30-minute run"},
      {"paper", INFINITY, INFINITY, 0.075, "sqrt", 0.1, 0.5, 1e-6, "the paper (appendix B.9), 100+ epochs"},
  };
  return table;
}

const RecipeRow& paper_recipe() { return recipe_table().back(); }

const std::vector<std::string>& recipe_keys() {
  static const std::vector<std::string> keys = {"optim.lr_base", "optim.lr_scaling", "optim.lr_warmup_fraction",
                                                "loss.temperature", "optim.weight_decay"};
  return keys;
}

bool recipe_needs_speed(const config::Config& config) {
  if (config.train.minutes <= 0 || config.train.recipe == "paper") return false;
  for (const auto& key : recipe_keys()) {
    if (unset(config, key)) return true;
  }
  return false;
}

RecipeChoice apply_recipe(config::Config& config, const RunFacts& facts) {
  RecipeChoice c;
  c.recipe = config.train.recipe;
  c.facts = facts;
  c.row = row_for(c.recipe, facts);
  for (const auto& key : recipe_keys()) (unset(config, key) ? c.chosen : c.kept).push_back(key);

  auto& oc = config.optim;
  const double row_peak = optim::scaled_lr(c.row.lr_base, facts.batch_size, c.row.lr_scaling);
  if (oc.lr_scaling == "auto") oc.lr_scaling = c.row.lr_scaling;
  // The row's peak at this batch, in whatever scaling the run uses.
  if (!oc.lr_base) oc.lr_base = row_peak / optim::scaled_lr(1.0, facts.batch_size, oc.lr_scaling);
  if (!oc.lr_warmup_fraction) oc.lr_warmup_fraction = c.row.lr_warmup_fraction;
  if (!oc.weight_decay) oc.weight_decay = c.row.weight_decay;
  if (!config.loss.temperature) config.loss.temperature = c.row.temperature;
  c.peak_lr = optim::scaled_lr(*oc.lr_base, facts.batch_size, oc.lr_scaling);
  c.used = c.row;
  c.used.lr_base = *oc.lr_base;
  c.used.lr_scaling = oc.lr_scaling;
  c.used.lr_warmup_fraction = *oc.lr_warmup_fraction;
  c.used.temperature = *config.loss.temperature;
  c.used.weight_decay = *oc.weight_decay;

  std::string run;
  if (facts.estimated_pairs_per_s > 0) {
    run = fmt::format("about {} epochs at batch {} ({:g} minutes at {:.0f} pairs/s, from a timed step)",
                      format_number(facts.epochs), facts.batch_size, config.train.minutes,
                      facts.estimated_pairs_per_s);
  } else if (facts.epochs > 0) {
    run = fmt::format("{} epochs at batch {}", format_number(facts.epochs), facts.batch_size);
  } else {
    // A minutes budget with nothing that depends on the epochs (--recipe paper, or every key set) times no
    // step, so the epochs are unknown; "0 epochs" would read as a broken budget.
    run = fmt::format("batch {}, epochs not estimated (nothing chosen depends on them)", facts.batch_size);
  }
  const std::string what = fmt::format("peak lr {} and temperature {}", format_number(c.peak_lr),
                                       format_number(*config.loss.temperature));
  if (c.chosen.empty()) {
    c.explanation = fmt::format("recipe: {}, all set by you; {}", what, run);
  } else if (c.recipe == "paper") {
    c.explanation = fmt::format("recipe paper: {} (the paper's values); {}", what, run);
  } else {
    c.explanation = fmt::format("recipe: {}: {} ({} row; see docs/recipes.md){}", what, run, c.row.name,
                                c.kept.empty() ? "" : fmt::format("; yours: {}", fmt::join(c.kept, ", ")));
  }
  return c;
}

void keep_choices(const config::Config& ran, config::Config& config) {
  if (unset(config, "optim.lr_base")) config.optim.lr_base = ran.optim.lr_base;
  if (unset(config, "optim.lr_scaling")) config.optim.lr_scaling = ran.optim.lr_scaling;
  if (unset(config, "optim.lr_warmup_fraction")) config.optim.lr_warmup_fraction = ran.optim.lr_warmup_fraction;
  if (unset(config, "loss.temperature")) config.loss.temperature = ran.loss.temperature;
  if (unset(config, "optim.weight_decay")) config.optim.weight_decay = ran.optim.weight_decay;
}

nlohmann::json RecipeChoice::to_json() const {
  return {{"recipe", recipe},
          {"row", row.name},
          {"evidence", row.evidence},
          {"batch_size", facts.batch_size},
          {"train_images", facts.train_images},
          {"epochs", facts.epochs},
          {"estimated_pairs_per_s", facts.estimated_pairs_per_s},
          {"chosen", chosen},
          {"kept", kept},
          {"explanation", explanation},
          {"peak_lr", peak_lr},
          {"lr_base", used.lr_base},
          {"lr_scaling", used.lr_scaling},
          {"lr_warmup_fraction", used.lr_warmup_fraction},
          {"temperature", used.temperature},
          {"weight_decay", used.weight_decay}};
}

}  // namespace simclr::train

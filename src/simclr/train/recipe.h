// The recipe: the learning rate, its scaling, the warm-up, the temperature
// and the weight decay a run uses when the user leaves them unset ("auto").
//
// train.recipe auto (the default) chooses them from what the run knows at
// start: the batch size, the number of training images and the budget,
// hence the number of epochs the run will reach (for a budget in minutes,
// estimated from a timed step). The values come from a table this project
// measured (docs/recipes.md: screens at several budgets and batch sizes on
// Fashion-MNIST and CIFAR-10); beyond what was measured, the paper's values.
// train.recipe paper gives the paper's values at every budget (LARS,
// 0.075 x sqrt(batch), 10% warm-up then cosine, temperature 0.5, weight
// decay 1e-6), for reproductions. A key the user set always wins.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "simclr/config/config.h"

namespace simclr::train {

// What the recipe depends on, known before the first step.
struct RunFacts {
  int64_t batch_size = 0;    // the global batch
  int64_t train_images = 0;  // images per epoch
  double epochs = 0;         // epochs the budget reaches (given, from steps, or estimated)
  // A budget in minutes: the epochs come from this speed, measured by a
  // timed step before training (0 for a budget in steps or epochs).
  double estimated_pairs_per_s = 0;
};

// One row of the table: the values for runs that reach at most `max_epochs`
// epochs at a batch of at most `max_batch`.
struct RecipeRow {
  std::string name;  // "short budget", "paper"
  double max_epochs = 0, max_batch = 0;
  double lr_base = 0;      // times sqrt(batch) or batch/256, as lr_scaling says
  std::string lr_scaling;  // sqrt | linear
  double lr_warmup_fraction = 0, temperature = 0, weight_decay = 0;
  std::string evidence;    // where it was measured
};

// The rows of train.recipe auto, first match wins; the last is the paper's.
const std::vector<RecipeRow>& recipe_table();
// train.recipe paper: the paper's values.
const RecipeRow& paper_recipe();

struct RecipeChoice {
  std::string recipe;  // auto | paper
  RecipeRow row;       // the row the facts fell in
  RecipeRow used;      // what the run uses: the row, with the user's keys in place of its values
  RunFacts facts;
  double peak_lr = 0;                     // lr_base scaled to the batch
  std::vector<std::string> chosen;        // keys the recipe set
  std::vector<std::string> kept;          // recipe keys the user set, kept as given
  std::string explanation;                // one line, printed and saved
  nlohmann::json to_json() const;         // recipe.json in the run directory
};

// The recipe's keys: optim.lr_base, optim.lr_scaling, optim.lr_warmup_fraction,
// loss.temperature, optim.weight_decay.
const std::vector<std::string>& recipe_keys();

// True when a recipe key is unset and the budget is in minutes, so that
// choosing needs the step's speed (see RunFacts::estimated_pairs_per_s).
bool recipe_needs_speed(const config::Config& config);

// Chooses for `facts` (train.recipe says from which table), fills every
// unset recipe key of `config` and explains the result.
RecipeChoice apply_recipe(config::Config& config, const RunFacts& facts);

// Gives each recipe key unset in `config` the value `ran` holds: "auto" in
// a resume, or in the grid cell of a run made before, means what that run
// chose, which its saved config holds.
void keep_choices(const config::Config& ran, config::Config& config);

}  // namespace simclr::train

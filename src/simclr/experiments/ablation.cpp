#include "simclr/experiments/ablation.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/eval/protocols.h"
#include "simclr/io/atomic_file.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/train/recipe.h"

namespace simclr::experiments {
namespace fs = std::filesystem;
namespace {

std::vector<std::pair<std::string, std::string>> read_settings(const YAML::Node& node, const std::string& where) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!node) return out;
  SIMCLR_CHECK(node.IsMap(), "grid {}: 'set' must be a map of config keys to values", where);
  for (const auto& kv : node) out.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
  return out;
}

std::string slug(const std::string& label) {
  std::string s;
  for (char c : label) s += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  return s;
}

config::Config cell_config(const Grid& grid, const GridCell& cell, int64_t seed) {
  config::Config c;
  if (!grid.base_config.empty()) config::load_yaml_file(c, grid.base_config);
  auto apply = [&](const std::vector<std::pair<std::string, std::string>>& settings) {
    // A budget given here replaces the base config's, as on the command line (config::set).
    for (const auto& [key, value] : settings) config::set(c, key, value);
  };
  apply(grid.set);
  apply(cell.set);
  c.train.seed = seed;
  config::validate(c);
  return c;
}

double mean_of(const std::vector<double>& v, double* std_out) {
  double s = 0, n = 0;
  for (double x : v) {
    if (std::isnan(x)) continue;
    s += x;
    ++n;
  }
  const double m = n > 0 ? s / n : std::numeric_limits<double>::quiet_NaN();
  double ss = 0;
  for (double x : v) {
    if (!std::isnan(x)) ss += (x - m) * (x - m);
  }
  *std_out = n > 1 ? std::sqrt(ss / (n - 1)) : 0;
  return m;
}

std::string percent(double v) { return std::isnan(v) ? "-" : fmt::format("{:.2f}", 100 * v); }

void write_heatmap(const Grid& grid, const std::vector<CellResult>& rows, const std::string& path) {
  std::vector<std::string> ops;
  for (const auto& cell : grid.cells) {
    if (std::find(ops.begin(), ops.end(), cell.row) == ops.end()) ops.push_back(cell.row);
  }
  const int n = static_cast<int>(ops.size()), box = 72, margin = 90;
  cv::Mat values(n, n, CV_64F, cv::Scalar(std::numeric_limits<double>::quiet_NaN()));
  double lo = 1, hi = 0;
  for (size_t i = 0; i < grid.cells.size(); ++i) {
    const auto& cell = grid.cells[i];
    const auto& r = rows[i * grid.eval_layers.size()];  // the first eval layer
    const int y = static_cast<int>(std::find(ops.begin(), ops.end(), cell.row) - ops.begin());
    const int x = static_cast<int>(std::find(ops.begin(), ops.end(), cell.column) - ops.begin());
    values.at<double>(y, x) = r.mean;
    if (!std::isnan(r.mean)) {
      lo = std::min(lo, r.mean);
      hi = std::max(hi, r.mean);
    }
  }
  // Wide enough for the title line even for a grid of two transformations.
  cv::Mat image(margin + n * box + 10, std::max(margin + n * box + 10, 480), CV_8UC3, cv::Scalar(255, 255, 255));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double v = values.at<double>(y, x);
      const cv::Rect r(margin + x * box, margin + y * box, box - 2, box - 2);
      if (std::isnan(v)) {
        cv::rectangle(image, r, cv::Scalar(220, 220, 220), cv::FILLED);
        continue;
      }
      cv::Mat level(1, 1, CV_8U, cv::Scalar(hi > lo ? 255.0 * (v - lo) / (hi - lo) : 128.0)), colour;
      cv::applyColorMap(level, colour, cv::COLORMAP_VIRIDIS);
      const auto c = colour.at<cv::Vec3b>(0, 0);
      cv::rectangle(image, r, cv::Scalar(c[0], c[1], c[2]), cv::FILLED);
      const bool dark = (v - lo) < 0.6 * (hi - lo);
      cv::putText(image, fmt::format("{:.1f}", 100 * v), {r.x + 12, r.y + box / 2 + 5}, cv::FONT_HERSHEY_SIMPLEX,
                  0.5, dark ? cv::Scalar(255, 255, 255) : cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    cv::putText(image, ops[static_cast<size_t>(y)], {6, margin + y * box + box / 2 + 5}, cv::FONT_HERSHEY_SIMPLEX,
                0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::putText(image, ops[static_cast<size_t>(y)], {margin + y * box + 6, margin - 12}, cv::FONT_HERSHEY_SIMPLEX,
                0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(image, "1st transformation (rows), 2nd (columns): linear top-1 %", {6, 22}, cv::FONT_HERSHEY_SIMPLEX,
              0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  std::vector<uchar> png;
  SIMCLR_CHECK(cv::imencode(".png", image, png), "cannot encode the heatmap");
  write_text_atomically(path, std::string(png.begin(), png.end()));
}

}  // namespace

Grid load_grid(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("cannot read grid file '{}': {}", path, e.what()));
  }
  SIMCLR_CHECK(root.IsMap(), "grid file '{}': the top level must be a map (name, set, seeds, axis/values, cells, pairs)",
               path);
  config::check_unique_yaml_keys(root, fmt::format("grid file '{}'", path));
  const std::vector<std::string> known = {"name", "config", "set",    "seeds", "eval_layers",
                                          "protocol", "axis", "values", "cells", "pairs"};
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    SIMCLR_CHECK(std::find(known.begin(), known.end(), key) != known.end(),
                 "grid file '{}': unknown key '{}'; known: {}", path, key, fmt::join(known, ", "));
  }
  Grid g;
  g.name = root["name"] ? root["name"].as<std::string>() : fs::path(path).stem().string();
  if (root["config"]) g.base_config = (fs::path(path).parent_path() / root["config"].as<std::string>()).string();
  g.set = read_settings(root["set"], "'" + path + "'");
  if (root["seeds"]) g.seeds = root["seeds"].as<std::vector<int64_t>>();
  if (root["eval_layers"]) g.eval_layers = root["eval_layers"].as<std::vector<std::string>>();
  if (root["protocol"]) {
    g.protocol = root["protocol"].as<std::string>();
    try {
      eval::protocols().at(g.protocol, "protocol");
    } catch (const Error& e) {
      throw Error(fmt::format("grid file '{}': {}", path, e.what()));
    }
  }
  SIMCLR_CHECK(!g.seeds.empty() && !g.eval_layers.empty(), "grid file '{}': give at least one seed and one eval layer",
               path);
  if (root["axis"] || root["values"]) {
    SIMCLR_CHECK(root["axis"] && root["values"] && root["values"].IsSequence(),
                 "grid file '{}': 'axis' (a config key) and 'values' (a list) go together", path);
    const auto axis = root["axis"].as<std::string>();
    for (const auto& v : root["values"]) g.cells.push_back({v.as<std::string>(), {{axis, v.as<std::string>()}}, "", ""});
  }
  if (root["cells"]) {
    for (const auto& c : root["cells"]) {
      SIMCLR_CHECK(c["label"], "grid file '{}': every cell needs a label", path);
      g.cells.push_back({c["label"].as<std::string>(), read_settings(c["set"], "'" + path + "' cell"), "", ""});
    }
  }
  if (root["pairs"]) {
    const auto ops = root["pairs"].as<std::vector<std::string>>();
    for (const auto& first : ops) {
      for (const auto& second : ops) {
        const std::string pipeline = first == second ? first : first + "," + second;
        g.cells.push_back({first == second ? first : first + "+" + second, {{"augment.pipeline", pipeline}}, first,
                           second});
      }
    }
    g.pairs = true;
  }
  SIMCLR_CHECK(!g.cells.empty(), "grid file '{}': no cells; give axis + values, cells or pairs", path);
  // Every cell's config must be valid before hours of running start.
  for (const auto& cell : g.cells) {
    try {
      auto c = cell_config(g, cell, g.seeds.front());
      for (const auto& layer : g.eval_layers) config::feature_layer_blocks(layer, c.model.head_layers, "eval_layers");
    } catch (const Error& e) {
      throw Error(fmt::format("grid file '{}', cell '{}': {}", path, cell.label, e.what()));
    }
  }
  return g;
}

AblationResult run_ablation(const Grid& grid, const std::string& out, const train::StopRequest& stop,
                            const AblationOptions& options) {
  AblationResult result;
  std::vector<CellResult>& rows = result.rows;
  for (const auto& cell : grid.cells) {
    for (const auto& layer : grid.eval_layers) {
      rows.push_back({cell.label, layer, std::vector<double>(grid.seeds.size(), std::nan("")), 0, 0,
                      std::vector<int64_t>(grid.seeds.size(), -1)});
    }
  }
  result.markdown_path = (fs::path(out) / "table.md").string();
  result.json_path = (fs::path(out) / "table.json").string();
  if (grid.pairs) result.heatmap_path = (fs::path(out) / "heatmap.png").string();

  auto write_tables = [&] {
    const std::string scored = grid.protocol == "linear" ? std::string("Linear top-1 (%)")
                                                          : fmt::format("Top-1 (%) by the {} protocol", grid.protocol);
    std::string md = fmt::format("# {}\n\n{}, one column per seed.\n\n| cell | layer |", grid.name, scored);
    for (auto s : grid.seeds) md += fmt::format(" seed {} |", s);
    md += " mean | std |\n| --- | --- |";
    for (size_t i = 0; i < grid.seeds.size() + 2; ++i) md += " --- |";
    md += "\n";
    nlohmann::json js = {{"name", grid.name}, {"seeds", grid.seeds}, {"cells", nlohmann::json::array()}};
    if (grid.protocol != "linear") js["protocol"] = grid.protocol;
    for (auto& r : rows) {
      r.mean = mean_of(r.top1, &r.std);
      md += fmt::format("| {} | {} |", r.label, r.layer);
      for (size_t s = 0; s < r.top1.size(); ++s) {
        md += r.diverged[s] >= 0 ? fmt::format(" diverged (step {}) |", r.diverged[s]) : " " + percent(r.top1[s]) + " |";
      }
      md += fmt::format(" {} | {} |\n", percent(r.mean), std::isnan(r.mean) ? "-" : fmt::format("{:.2f}", 100 * r.std));
      nlohmann::json top1 = nlohmann::json::array();
      for (double v : r.top1) top1.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
      js["cells"].push_back({{"label", r.label}, {"layer", r.layer}, {"top1", top1}, {"diverged_at_step", r.diverged},
                             {"mean", std::isnan(r.mean) ? nlohmann::json(nullptr) : nlohmann::json(r.mean)},
                             {"std", r.std}});
    }
    write_text_atomically(result.markdown_path, md);
    write_text_atomically(result.json_path, js.dump(2) + "\n");
    if (grid.pairs) write_heatmap(grid, rows, result.heatmap_path);
  };

  std::error_code ec;
  fs::create_directories(fs::path(out) / "runs", ec);
  SIMCLR_CHECK(fs::is_directory(fs::path(out) / "runs"), "cannot create '{}': {}", out, ec.message());
  SIMCLR_CHECK(options.shards >= 1 && options.shard >= 0 && options.shard < options.shards,
               "shard {} of {} does not exist; shards are numbered 0 to N-1", options.shard, options.shards);
  auto run_dir = [&](size_t c, size_t s) {
    return (fs::path(out) / "runs" / fmt::format("{}-seed{}", slug(grid.cells[c].label), grid.seeds[s])).string();
  };
  // Each protocol's scores in a file of their own, so a grid scored another
  // way later does not read them as its own.
  const std::string result_file =
      grid.protocol == "linear" ? "ablation_result.json" : fmt::format("ablation_result.{}.json", grid.protocol);
  auto config_of = [&](size_t c, size_t s) {
    auto config = cell_config(grid, grid.cells[c], grid.seeds[s]);
    if (options.threads >= 0) config.train.threads = options.threads;
    return config;
  };
  // A finished run's result, or null. A run made with another config (the
  // grid file changed) is not this cell's result and is refused: pretrain
  // wrote the config it ran into config.yaml. Thread counts may differ. A
  // run's config is checked once; its result is read each time, since
  // another shard may have finished it meanwhile.
  std::vector<char> config_checked(grid.cells.size() * grid.seeds.size(), 0);
  auto finished = [&](size_t c, size_t s) {
    const auto dir = run_dir(c, s);
    char& checked = config_checked[c * grid.seeds.size() + s];
    if (!checked) {
      if (!fs::exists(fs::path(dir) / "config.yaml")) return nlohmann::json();
      config::Config ran, wanted = config_of(c, s);
      bool same = false;
      try {
        config::load_yaml_file(ran, (fs::path(dir) / "config.yaml").string());
        ran.train.threads = wanted.train.threads;
        ran.data.workers = wanted.data.workers;
        train::keep_choices(ran, wanted);
        same = config::to_yaml(ran) == config::to_yaml(wanted);
      } catch (const Error&) {
      }
      SIMCLR_CHECK(same,
                   "'{}' holds a run of another config than the grid's cell '{}' now gives (was the grid file "
                   "edited?); use another --out, or delete that run directory to redo it",
                   dir, grid.cells[c].label);
      checked = 1;
    }
    std::ifstream in(fs::path(dir) / result_file);
    if (!in) return nlohmann::json();
    auto done = nlohmann::json::parse(in, nullptr, false);
    return done.is_object() ? done : nlohmann::json();
  };
  // The tables show every result on disk, this process's or another shard's.
  auto collect_and_write = [&] {
    result.runs_left = 0;
    for (size_t c = 0; c < grid.cells.size(); ++c) {
      for (size_t s = 0; s < grid.seeds.size(); ++s) {
        const auto done = finished(c, s);
        result.runs_left += done.is_null();
        for (size_t l = 0; l < grid.eval_layers.size(); ++l) {
          auto& row = rows[c * grid.eval_layers.size() + l];
          row.top1[s] = done.is_object() ? done.value(grid.eval_layers[l], std::nan("")) : std::nan("");
          row.diverged[s] = done.is_object() && done.contains("diverged_at_step")
                                ? done["diverged_at_step"].get<int64_t>()
                                : -1;
        }
      }
    }
    write_tables();
  };

  for (size_t c = 0; c < grid.cells.size(); ++c) {
    const auto& cell = grid.cells[c];
    for (size_t s = 0; s < grid.seeds.size(); ++s) {
      const auto dir = run_dir(c, s);
      nlohmann::json done = finished(c, s);
      if (done.is_object()) {
        ++result.runs_reused;
        continue;
      }
      if ((c * grid.seeds.size() + s) % static_cast<size_t>(options.shards) != static_cast<size_t>(options.shard)) {
        continue;  // another shard's run
      }
      interrupt_point("ablation");
      spdlog::info("ablation '{}': cell {} of {} ({}), seed {}", grid.name, c + 1, grid.cells.size(), cell.label,
                   grid.seeds[s]);
      const auto config = config_of(c, s);
      const bool resume = fs::exists(fs::path(dir) / serialize::kCheckpointFile);
      try {
        if (train::pretrain(config, dir, resume, stop).interrupted) {
          result.interrupted = true;
          collect_and_write();
          return result;
        }
      } catch (const train::DivergedError& e) {
        // A variant that cannot train at this setting is a result too.
        spdlog::warn("ablation '{}': cell {} seed {} diverged at step {}", grid.name, cell.label, grid.seeds[s],
                     e.step);
        done = {{"diverged_at_step", e.step}};
        ++result.runs_diverged;
      }
      if (!done.is_object()) {
        serialize::CheckpointReader reader(dir);
        done = nlohmann::json::object();
        for (const auto& layer : grid.eval_layers) {
          auto eval_config = reader.config();
          eval_config.eval.feature_layer = layer;
          for (const auto& [key, value] : grid.set) {
            if (key.rfind("eval.", 0) == 0) config::set(eval_config, key, value);
          }
          done[layer] = eval::protocols().at(grid.protocol).run(eval_config, &reader).top1;
        }
      }
      write_text_atomically((fs::path(dir) / result_file).string(), done.dump(2) + "\n");
      ++result.runs_done;
      collect_and_write();
    }
  }
  collect_and_write();
  return result;
}

}  // namespace simclr::experiments

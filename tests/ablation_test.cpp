// `simclr ablate`: grid files, the runs, the tables, the heatmap, resuming.
#include "simclr/experiments/ablation.h"

#include "simclr/eval/protocols.h"
#include "simclr/io/run_lock.h"

#include <opencv2/imgcodecs.hpp>

#include "test_util.h"

namespace simclr::experiments {
namespace {
using namespace simclr::testing;

std::string write_grid(const TempDir& dir, const std::string& data, const std::string& body) {
  const std::string path = dir / "grid.yaml";
  std::ofstream(path) << "set: {data.path: " << data << ", data.dataset: mnist, model.width: 4, "
                      << "train.batch_size: 16, train.steps: 2, train.threads: 1, train.precision: fp32, "
                      << "eval.max_iter: 5, eval.weight_decays: '0', train.log_every_seconds: 1000}\n"
                      << body;
  return path;
}

TEST(Ablation, RunsEveryCellAndSeedWritesTheTablesAndResumes) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  const auto grid = load_grid(write_grid(dir, data.str(),
                                         "name: heads\nseeds: [0, 1]\neval_layers: [h, z]\n"
                                         "axis: model.head_layers\nvalues: [0, 2]\n"));
  ASSERT_EQ(grid.cells.size(), 2u);
  const auto first = run_ablation(grid, dir / "out");
  EXPECT_EQ(first.runs_done, 4);
  EXPECT_EQ(first.runs_reused, 0);
  ASSERT_EQ(first.rows.size(), 4u);  // 2 cells x 2 layers
  for (const auto& row : first.rows) {
    ASSERT_EQ(row.top1.size(), 2u);
    for (double v : row.top1) {
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 1.0);
    }
  }
  // No head: z is h, so both probes agree.
  EXPECT_DOUBLE_EQ(first.rows[0].top1[0], first.rows[1].top1[0]);
  const auto table = nlohmann::json::parse(std::ifstream(first.json_path));
  EXPECT_EQ(table["cells"].size(), 4u);
  std::ifstream md(first.markdown_path);
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("| 0 | z |"), std::string::npos) << text;
  // Rerunning reuses every finished run.
  const auto again = run_ablation(grid, dir / "out");
  EXPECT_EQ(again.runs_done, 0);
  EXPECT_EQ(again.runs_reused, 4);
  EXPECT_EQ(again.rows[2].top1, first.rows[2].top1);
  // The same output directory with an edited grid is refused, not mixed in.
  const auto edited = load_grid(write_grid(
      dir, data.str(), "seeds: [0]\ncells: [{label: '0', set: {model.head_layers: 0, loss.temperature: 0.3}}]\n"));
  EXPECT_NE(error_of([&] { run_ablation(edited, dir / "out"); }).find("another config"), std::string::npos);
}

// `simclr ablate --shard I/N` locks the folder under a name of its own:
// the shards of one grid run side by side (scripts/ablate.sh), a second copy
// of one shard, or of the unsharded command, is refused.
TEST(Ablation, ShardsLockTheFolderEachForItself) {
  TempDir dir;
  const io::RunLock whole(dir.str(), "simclr ablate");
  const io::RunLock shard0(dir.str(), "simclr ablate --shard 0/2", std::string(io::kLockFile) + ".shard-0-of-2");
  const io::RunLock shard1(dir.str(), "simclr ablate --shard 1/2", std::string(io::kLockFile) + ".shard-1-of-2");
  EXPECT_NE(error_of([&] { io::RunLock again(dir.str(), "simclr ablate --shard 0/2",
                                             std::string(io::kLockFile) + ".shard-0-of-2"); })
                .find("in use by another simclr process"),
            std::string::npos);
  EXPECT_NE(error_of([&] { io::RunLock again(dir.str(), "simclr ablate"); }).find("in use by another simclr process"),
            std::string::npos);
}

TEST(Ablation, ShardsSplitTheGridAndAFinalRunCollectsThem) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  const auto grid = load_grid(write_grid(dir, data.str(), "seeds: [0, 1]\naxis: loss.temperature\nvalues: [0.1, 0.5]\n"));
  AblationOptions shard0{0, 2, -1}, shard1{1, 2, 2};  // shard 1 with another thread count
  const auto first = run_ablation(grid, dir / "out", {}, shard0);
  EXPECT_EQ(first.runs_done, 2);  // runs 0 and 2 of 4: (0.1, seed 0) and (0.5, seed 0)
  EXPECT_EQ(first.runs_left, 2);
  EXPECT_FALSE(std::isnan(first.rows[0].top1[0]));
  EXPECT_TRUE(std::isnan(first.rows[0].top1[1]));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/runs/0.5-seed0/ablation_result.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/runs/0.5-seed1"));
  // The second shard runs the rest and its table already shows the first's.
  const auto second = run_ablation(grid, dir / "out", {}, shard1);
  EXPECT_EQ(second.runs_done, 2);
  EXPECT_EQ(second.runs_reused, 2);
  EXPECT_EQ(second.runs_left, 0);
  EXPECT_EQ(second.rows[0].top1[0], first.rows[0].top1[0]);
  // Without a shard: everything is reused, whatever thread count each ran with.
  const auto all = run_ablation(grid, dir / "out");
  EXPECT_EQ(all.runs_done, 0);
  EXPECT_EQ(all.runs_reused, 4);
  EXPECT_EQ(all.rows[1].top1, second.rows[1].top1);
  EXPECT_NE(error_of([&] { run_ablation(grid, dir / "out", {}, AblationOptions{2, 2, -1}); }).find("shard 2 of 2"),
            std::string::npos);
}

TEST(Ablation, AnInterruptedGridContinuesWhereItStopped) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  const auto grid = load_grid(write_grid(dir, data.str(), "axis: loss.temperature\nvalues: [0.1, 0.5]\n"));
  const auto stopped = run_ablation(grid, dir / "out", [](const serialize::TrainState& s) { return s.step == 1; });
  EXPECT_TRUE(stopped.interrupted);
  EXPECT_EQ(stopped.runs_done, 0);
  const auto done = run_ablation(grid, dir / "out");
  EXPECT_FALSE(done.interrupted);
  EXPECT_EQ(done.runs_done, 2);
  serialize::CheckpointReader reader(dir / "out/runs/0.1-seed0");
  EXPECT_EQ(reader.state().step, 2);
}

// The grid's `protocol` picks the scorer from eval::protocols(); each
// protocol keeps its own result file, so one set of runs can be scored both ways.
TEST(Ablation, TheProtocolScoresEachRunAndKeepsItsOwnResults) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  const auto knn = load_grid(write_grid(dir, data.str(), "protocol: knn\naxis: loss.temperature\nvalues: [0.5]\n"));
  EXPECT_EQ(knn.protocol, "knn");
  const auto scored = run_ablation(knn, dir / "out");
  ASSERT_EQ(scored.runs_done, 1);
  const std::string run = dir / "out/runs/0.5-seed0";
  EXPECT_TRUE(std::filesystem::exists(run + "/ablation_result.knn.json"));
  EXPECT_FALSE(std::filesystem::exists(run + "/ablation_result.json"));
  serialize::CheckpointReader reader(run);
  EXPECT_DOUBLE_EQ(scored.rows[0].top1[0], eval::protocols().at("knn").run(reader.config(), &reader).top1);
  std::ifstream md(scored.markdown_path);
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("by the knn protocol"), std::string::npos) << text;

  // The same runs scored by the linear probe: evaluated again, not retrained.
  const auto linear = load_grid(write_grid(dir, data.str(), "axis: loss.temperature\nvalues: [0.5]\n"));
  const auto again = run_ablation(linear, dir / "out");
  EXPECT_EQ(again.runs_done, 1);
  EXPECT_EQ(serialize::CheckpointReader(run).state().step, 2);
  EXPECT_TRUE(std::filesystem::exists(run + "/ablation_result.json"));

  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "protocol: knnn\naxis: loss.temperature\nvalues: [0.5]\n")); })
                .find("unknown evaluation protocol 'knnn' (protocol); known: linear, knn, finetune"),
            std::string::npos);
}

TEST(Ablation, ADivergedRunIsRecordedAndTheGridGoesOn) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  // Raw dot products at a learning rate of 100 blow up within a few steps.
  const auto grid = load_grid(write_grid(
      dir, data.str(),
      "cells:\n"
      "  - {label: blowup, set: {train.steps: 12, loss.normalize: false, optim.lr_base: 100, "
      "optim.lr_warmup_fraction: 0}}\n"
      "  - {label: fine, set: {loss.temperature: 0.5}}\n"));
  const auto r = run_ablation(grid, dir / "out");
  EXPECT_EQ(r.runs_diverged, 1);
  EXPECT_EQ(r.runs_done, 2);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_GT(r.rows[0].diverged[0], 0);
  EXPECT_TRUE(std::isnan(r.rows[0].top1[0]));
  EXPECT_EQ(r.rows[1].diverged[0], -1);
  EXPECT_FALSE(std::isnan(r.rows[1].top1[0]));
  std::ifstream md(r.markdown_path);
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("diverged (step"), std::string::npos) << text;
  // On a rerun the diverged run is reused, not retried.
  const auto again = run_ablation(grid, dir / "out");
  EXPECT_EQ(again.runs_reused, 2);
  EXPECT_EQ(again.rows[0].diverged[0], r.rows[0].diverged[0]);
}

TEST(Ablation, PairGridDrawsAHeatmap) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  const auto grid = load_grid(write_grid(dir, data.str(), "pairs: [crop, rotate]\n"));
  ASSERT_EQ(grid.cells.size(), 4u);
  EXPECT_EQ(grid.cells[1].label, "crop+rotate");
  EXPECT_EQ(grid.cells[1].set[0].second, "crop,rotate");
  const auto r = run_ablation(grid, dir / "out");
  const auto image = cv::imread(r.heatmap_path);
  ASSERT_FALSE(image.empty());
  EXPECT_GT(image.cols, 100);
}

TEST(Ablation, BadGridsAreNamedBeforeAnythingRuns) {
  TempDir data, dir;
  write_toy_idx(data.str(), 48, 16);
  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "axes: x\n")); }).find("unknown key 'axes'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "axis: loss.temperature\nvalues: [0.5, -1]\n")); })
                .find("cell '-1'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "axis: loss.temprature\nvalues: [0.5]\n")); })
                .find("temprature"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "eval_layers: [head3]\naxis: loss.temperature\nvalues: [0.5]\n")); })
                .find("head3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_grid(write_grid(dir, data.str(), "seeds: [0]\n")); }).find("no cells"),
            std::string::npos);
  EXPECT_NE(error_of([&] { load_grid(dir / "missing.yaml"); }).find("missing.yaml"), std::string::npos);
}

// The grid files in grids/ parse and every cell's config is valid.
TEST(Ablation, ShippedGridFilesAreValid) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::string(SIMCLR_SOURCE_DIR) + "/grids")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto grid = load_grid(entry.path().string());
    EXPECT_GE(grid.seeds.size(), 2u);
    EXPECT_FALSE(grid.cells.empty());
  }
}

TEST(Ablation, RepeatedKeysAreRefused) {
  testing::TempDir dir;
  std::ofstream(dir / "g.yaml") << "name: x\nseeds: [0]\nset:\n  train.steps: 5\n  train.steps: 6\naxis: train.seed\nvalues: [1]\n";
  const auto msg = testing::error_of([&] { load_grid(dir / "g.yaml"); });
  EXPECT_NE(msg.find("key 'set.train.steps' is given twice (lines 4 and 5)"), std::string::npos) << msg;
}
TEST(Ablation, CheckedInGridsAndConfigsHaveNoRepeatedKeys) {
  namespace fs = std::filesystem;
  for (auto& e : fs::directory_iterator(std::string(SIMCLR_SOURCE_DIR) + "/configs")) {
    config::Config c; EXPECT_EQ(testing::error_of([&] { config::load_yaml_file(c, e.path().string()); }), "") << e.path();
  }
  for (auto& e : fs::recursive_directory_iterator(std::string(SIMCLR_SOURCE_DIR) + "/grids")) {
    if (e.path().extension() != ".yaml") continue;
    const auto m = testing::error_of([&] { load_grid(e.path().string()); });
    EXPECT_EQ(m.find("given twice"), std::string::npos) << e.path() << m;
  }
}

}  // namespace
}  // namespace simclr::experiments

// Integration tests of the training loop on a toy dataset written by the test.
#include "simclr/train/pretrain.h"

#include "simclr/core/error.h"
#include "test_util.h"

namespace simclr::train {
namespace {
using namespace simclr::testing;

std::vector<nlohmann::json> read_metrics(const std::string& run) {
  std::ifstream in(run + "/metrics.jsonl");
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::map<std::string, torch::Tensor> weights(const std::string& run) {
  serialize::CheckpointReader reader(run);
  auto model = models::build_model(reader.config().model, 1, 12);
  reader.load_model(model);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters()) out[p.key()] = p.value().detach().clone();
  for (const auto& b : model->named_buffers()) out[b.key()] = b.value().detach().clone();
  return out;
}

TEST(Pretrain, LossDecreasesAndMetricsAreWritten) {
  TempDir data, run;
  write_toy_idx(data.str(), 128, 16);
  const auto result = pretrain(toy_config(data.str()), run / "r", false);
  EXPECT_EQ(result.state.step, 40);
  EXPECT_EQ(result.state.epoch, 10);  // 4 batches per epoch
  const auto m = read_metrics(run / "r");
  ASSERT_EQ(m.size(), 40u);
  for (const char* key : {"step", "epoch", "loss", "lr", "contrastive_top1", "pairs_per_s"}) {
    EXPECT_TRUE(m[0].contains(key)) << key;
  }
  auto mean_loss = [&](size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += m[i]["loss"].get<double>();
    return s / (to - from);
  };
  EXPECT_LT(mean_loss(32, 40), mean_loss(0, 8) - 0.1);
  EXPECT_TRUE(std::filesystem::exists(run / "r/checkpoint.pt"));
  EXPECT_TRUE(std::filesystem::exists(run / "r/config.yaml"));
  EXPECT_DOUBLE_EQ(m[0]["lr"].get<double>(), 0.0);  // warm-up starts at 0, as the official schedule
}

TEST(Pretrain, KnnMonitorWritesItsAccuracyEveryNStepsAndAtTheEnd) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.train.steps = 5;
  config.eval.knn_every_steps = 2;
  config.eval.knn_k = 5;
  config.eval.knn_monitor_train = 40;
  pretrain(config, run / "r", false);
  std::vector<nlohmann::json> knn;
  for (const auto& line : read_metrics(run / "r")) {
    if (line.contains("knn_top1")) knn.push_back(line);
  }
  ASSERT_EQ(knn.size(), 3u);  // steps 2, 4 and the end (5)
  EXPECT_EQ(knn[0]["step"], 2);
  EXPECT_EQ(knn[2]["step"], 5);
  EXPECT_EQ(knn[0]["knn_bank"], 40);
  EXPECT_EQ(knn[0]["knn_queries"], 16);
  for (const auto& k : knn) {
    EXPECT_GE(k["knn_top1"].get<double>(), 0.0);
    EXPECT_LE(k["knn_top1"].get<double>(), 1.0);
    EXPECT_EQ(k["knn_top5"].get<double>(), 1.0);  // two classes
  }
  // By epochs: 64 images / batch 32 = 2 steps per epoch; every 2nd epoch is
  // steps 4 and 8, plus the end (step 9).
  config.eval.knn_every_steps = 0;
  config.eval.knn_every_epochs = 2;
  config.train.steps = 9;
  pretrain(config, run / "e", false);
  std::vector<int64_t> steps;
  for (const auto& line : read_metrics(run / "e")) {
    if (line.contains("knn_top1")) steps.push_back(line["step"].get<int64_t>());
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{4, 8, 9}));
}

TEST(Pretrain, InterruptedRunResumesToTheSameWeights) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.train.steps = 7;  // crosses an epoch boundary (2 batches per epoch) mid-run
  pretrain(config, run / "straight", false);

  const auto first = pretrain(config, run / "split", false, [](const serialize::TrainState& s) { return s.step == 3; });
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.state.step, 3);
  const auto second = pretrain(config, run / "split", true);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.state.step, 7);

  const auto a = weights(run / "straight"), b = weights(run / "split");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::allclose(t, b.at(name), 1e-5, 1e-6)) << name;
  const auto m = read_metrics(run / "split");
  ASSERT_EQ(m.size(), 7u);
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i]["step"].get<int64_t>(), static_cast<int64_t>(i + 1));
  EXPECT_NEAR(m[6]["loss"].get<double>(), read_metrics(run / "straight")[6]["loss"].get<double>(), 1e-4);
}

// A memory of negatives (its momentum model and queue are in the
// checkpoint) and micro-batches: an interrupted run still resumes exactly.
TEST(Pretrain, AMemoryOfNegativesAndMicroBatchesResumeToTheSameWeights) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.train.steps = 5;
  config.train.micro_batch_size = 6;
  pretrain(config, run / "plain", false);  // micro-batches, no memory
  config.loss.queue_size = 100;  // 64 keys a step: full at step 2, wrapping after
  pretrain(config, run / "straight", false);
  pretrain(config, run / "split", false, [](const serialize::TrainState& s) { return s.step == 3; });
  const auto second = pretrain(config, run / "split", true);
  EXPECT_EQ(second.state.step, 5);
  const auto a = weights(run / "straight"), b = weights(run / "split");
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::allclose(t, b.at(name), 1e-5, 1e-6)) << name;
  const auto straight = read_metrics(run / "straight"), split = read_metrics(run / "split");
  ASSERT_EQ(split.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(split[i]["loss"].get<double>(), straight[i]["loss"].get<double>(), 1e-4);
  // The memory is empty at step 1 (the same loss as without it) and used
  // from step 2 on: more negatives, a larger loss.
  const auto without = read_metrics(run / "plain");
  EXPECT_NEAR(straight[0]["loss"].get<double>(), without[0]["loss"].get<double>(), 1e-5);
  EXPECT_GT(straight[1]["loss"].get<double>(), without[1]["loss"].get<double>() + 0.1);
}

TEST(Pretrain, RefusesToOverwriteOrResumeNothing) {
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.train.steps = 1;
  EXPECT_THROW(pretrain(config, run / "none", true), Error);
  pretrain(config, run / "once", false);
  try {
    pretrain(config, run / "once", false);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos);
  }
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Pretrain, NonFiniteLossStopsWithAClearErrorAndKeepsTheCheckpoint) {
  // NT-Xent on l2-normalised projections is bounded, so a NaN loss comes from
  // NaN weights: a diverged run. Write one as a checkpoint, then resume it.
  TempDir data, run;
  write_toy_idx(data.str(), 64, 16);
  auto config = toy_config(data.str());
  config.train.steps = 2;
  pretrain(config, run / "r", false);
  {
    serialize::CheckpointReader reader(run / "r");
    auto model = models::build_model(reader.config().model, 1, 12);
    reader.load_model(model);
    optim::Lars optimizer(model->parameters(), {});
    reader.load_optimizer(optimizer);
    torch::NoGradGuard no_grad;
    model->named_parameters()["encoder.conv1.weight"].fill_(std::numeric_limits<float>::quiet_NaN());
    serialize::save_checkpoint(run / "r/checkpoint.pt", reader.config(), model, optimizer, reader.state(), reader.input());
  }
  const auto saved = file_bytes(run / "r/checkpoint.pt");
  config.train.steps = 4;
  config.train.checkpoint_every = 1;
  try {
    pretrain(config, run / "r", true);
    FAIL() << "expected a non-finite loss";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss became nan at step 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos);
  }
  EXPECT_EQ(file_bytes(run / "r/checkpoint.pt"), saved);  // nothing written over it
}

TEST(Pretrain, MissingDatasetNamesThePath) {
  TempDir run;
  auto config = toy_config("/nonexistent/data");
  try {
    pretrain(config, run / "r", false);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/data"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(run / "r/checkpoint.pt"));
}

}  // namespace
}  // namespace simclr::train

// The command-line program on bad input: a clear message naming the thing
// and the fix, a non-zero exit, never a crash.
#include <sys/wait.h>

#include <cstdio>
#include <opencv2/imgcodecs.hpp>

#include "test_util.h"

namespace {
using simclr::testing::CliRun;
using simclr::testing::TempDir;

CliRun run(const std::string& args, bool stdout_only = false) { return simclr::testing::run_cli(args, stdout_only); }

TEST(Cli, HelpDocumentsEveryOptionWithItsDefault) {
  const auto r = run("pretrain --help");
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"--data", "--dataset", "--out", "--config", "--arch", "--width", "--batch-size", "--epochs",
                        "--steps", "--minutes", "--threads", "--seed", "--resume", "--optim.lr_base",
                        "--augment.blur_p", "default: 0.5"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
  }
  EXPECT_EQ(run("linear-eval --help").code, 0);
}

// The commands live in one file each; the order `simclr --help` lists them in
// is part of the contract and comes from the one list in simclr_main.cpp, not
// from file names.
TEST(Cli, HelpListsEveryCommandInItsOrder) {
  const auto r = run("--help", true);
  EXPECT_EQ(r.code, 0);
  size_t at = r.output.find("Subcommands:");
  ASSERT_NE(at, std::string::npos) << r.output;
  for (const std::string c : {"pretrain", "linear-eval", "knn-eval", "finetune", "embed", "export", "info", "ablate",
                              "bench", "augment-preview"}) {
    at = r.output.find("\n  " + c + " ", at);
    ASSERT_NE(at, std::string::npos) << c << " is missing or out of order:\n" << r.output;
    const auto help = run(c + " --help", true);
    EXPECT_EQ(help.code, 0) << c;
    EXPECT_NE(help.output.find(" " + c + " [OPTIONS]"), std::string::npos) << c << "\n" << help.output;
  }
}

TEST(Cli, BadInputGivesAMessageAndANonZeroExit) {
  TempDir dir;
  struct Case {
    std::string args, expect;
  };
  std::ofstream(dir / "bad.yaml") << "optim:\n  learning_rate: 0.1\n";
  const std::vector<Case> cases = {
      {"pretrain --out " + dir / "a" + " --data /nonexistent/x --steps 1", "/nonexistent/x"},
      {"pretrain --out " + dir / "b" + " --optim.lr_base -1 --steps 1", "optim.lr_base"},
      {"pretrain --out " + dir / "c" + " --temperature 0 --steps 1", "loss.temperature"},
      {"pretrain --out " + dir / "d" + " --config " + dir / "bad.yaml", "optim.learning_rate"},
      {"pretrain --out " + dir / "e" + " --steps 1 --minutes 2", "only one of"},
      {"pretrain --out " + dir / "f" + " --dataset cifar-99 --steps 1", "fashion-mnist, mnist, imagefolder"},
      {"pretrain --out " + dir / "g" + " --resume --steps 1", "cannot resume"},
      {"linear-eval --checkpoint " + dir / "nothing", "no checkpoint"},
      {"ablate --grid " + std::string(SIMCLR_SOURCE_DIR) + "/grids/cifar10/head.yaml --out " + dir / "h" +
           " --shard 2/2", "I must be 0 to N-1"},
      {"ablate --grid " + std::string(SIMCLR_SOURCE_DIR) + "/grids/cifar10/head.yaml --out " + dir / "h" +
           " --shard half", "give I/N"},
      {"ablate --grid " + std::string(SIMCLR_SOURCE_DIR) + "/grids/cifar10/head.yaml --out " + dir / "h" +
           " --threads -2", "--threads"},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_LT(r.code, 128) << "crashed: " << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST(Cli, CorruptCheckpointIsReportedNotCrashed) {
  TempDir dir;
  std::filesystem::create_directories(dir / "run");
  std::ofstream(dir / "run/checkpoint.pt") << "garbage";
  const auto r = run("linear-eval --checkpoint " + dir / "run");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("is not a zip archive"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(dir / "run/checkpoint.pt"), std::string::npos) << r.output;
}

TEST(Cli, UnreadableImagesStopTheRunOrAreSkippedOnRequest) {
  TempDir data, dir;
  for (int c = 0; c < 2; ++c) {
    std::filesystem::create_directories(data / ("class" + std::to_string(c)));
    for (int i = 0; i < 10; ++i) {
      cv::Mat m(12, 12, CV_8UC3, cv::Scalar(20 * i, 100 * c, 7));
      cv::imwrite(data / ("class" + std::to_string(c) + "/" + std::to_string(i) + ".png"), m);
    }
  }
  std::ofstream(data / "class1/broken.jpg") << "\xff\xd8\xff garbage";
  const std::string common = " --data " + data.str() +
                             " --dataset imagefolder --width 4 --batch-size 21 --steps 2 --precision fp32";
  auto r = run("pretrain --out " + dir / "stop" + common);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("broken.jpg"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("on_bad_image"), std::string::npos) << r.output;
  r = run("pretrain --out " + dir / "skip" + common + " --data.on_bad_image skip");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("skipping unreadable image #1"), std::string::npos) << r.output;
}

TEST(Cli, EvaluationAndExportCommands) {
  TempDir data, dir;
  simclr::testing::write_toy_idx(data.str(), 64, 32);
  ASSERT_EQ(run("pretrain --out " + dir / "run" + " --data " + data.str() +
                " --dataset mnist --width 4 --batch-size 16 --steps 2 --precision fp32 --json",
                true)
                .code,
            0);
  auto r = run("knn-eval --checkpoint " + dir / "run" + " --k 5 --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["k"], 5);
  EXPECT_EQ(j["test_size"], 32);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/knn_eval.json"));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "run/features"));  // cached for the next evaluation
  r = run("linear-eval --checkpoint " + dir / "run" + " --layer z --eval.max_iter 20 --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["feature_layer"], "z");
  EXPECT_EQ(j["feature_dim"], 128);  // z: the default head_dim
  r = run("embed --checkpoint " + dir / "run" + " --split train --out " + dir / "e.npy" + " --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["rows"], 64);
  EXPECT_TRUE(std::filesystem::exists(dir / "e.index.csv"));
  r = run("export --checkpoint " + dir / "run" + " --out " + dir / "m.pt" + " --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run("info " + dir / "m.pt" + " --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["kind"], "torchscript");
  EXPECT_EQ(j["info"]["input"]["size"], 12);
  EXPECT_EQ(j["info"]["input"]["channels"], 1);
  r = run("info " + dir / "run" + " --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["kind"], "checkpoint");
  // Bad input: named, non-zero, no crash.
  std::ofstream(dir / "junk.pt") << "junk";
  for (const auto& [args, expect] : std::vector<std::pair<std::string, std::string>>{
           {"info " + dir / "junk.pt", "junk.pt"},
           {"embed --checkpoint " + dir / "run" + " --split val --out " + dir / "x.npy", "--split"},
           {"knn-eval", "--checkpoint"},
           {"linear-eval --checkpoint " + dir / "run" + " --layer head7", "head7"},
           {"pretrain --out " + dir / "w" + " --data " + data.str() + " --dataset mnist --steps 1 --model.init_weights " +
                dir / "junk.pt",
            "junk.pt"}}) {
    const auto bad = run(args);
    EXPECT_EQ(bad.code, 1) << args << "\n" << bad.output;
    EXPECT_NE(bad.output.find(expect), std::string::npos) << args << "\n" << bad.output;
  }
}

TEST(Cli, PretrainThenLinearEvalWithJson) {
  TempDir data, dir;
  simclr::testing::write_toy_idx(data.str(), 64, 32);
  const std::string common = " --data " + data.str() + " --dataset mnist";
  auto r = run("pretrain --out " + dir / "run" + common +
               " --width 4 --batch-size 16 --steps 2 --precision fp32 --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto result = nlohmann::json::parse(r.output);
  EXPECT_EQ(result["step"], 2);
  r = run("linear-eval --checkpoint " + dir / "run" + " --eval.max_iter 20 --json", true);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto eval = nlohmann::json::parse(r.output);  // exactly one JSON object on stdout
  EXPECT_GE(eval["top1"].get<double>(), 0.0);
  EXPECT_LE(eval["top1"].get<double>(), 1.0);
  EXPECT_TRUE(std::filesystem::exists(dir / "run/linear_eval.json"));
}

TEST(Cli, BenchReportsSpeedAgainstTheMachineLimit) {
  TempDir data;
  simclr::testing::write_toy_idx(data.str(), 64, 32);
  auto r = run("bench --data " + data.str() +
                   " --dataset mnist --width 4 --batch-size 16 --warmup-steps 1 --timed-steps 2 --json",
               true);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto b = nlohmann::json::parse(r.output);
  EXPECT_EQ(b["step_seconds"].size(), 2u);
  EXPECT_GT(b["pairs_per_s"].get<double>(), 0.0);
  EXPECT_GT(b["gemm_fp32_gflops"].get<double>(), 0.0);
  EXPECT_GT(b["gflop_per_pair"].get<double>(), 0.0);
  // pairs/s against the limit: the limit is the peak over the FLOPs per pair
  const double peak = b["precision"] == "bf16" ? b["gemm_bf16_gflops"].get<double>() : b["gemm_fp32_gflops"].get<double>();
  EXPECT_NEAR(b["limit_pairs_per_s"].get<double>(), peak / b["gflop_per_pair"].get<double>(), 1e-6 * peak);
  EXPECT_NEAR(b["fraction_of_limit"].get<double>(),
              b["pairs_per_s"].get<double>() / b["limit_pairs_per_s"].get<double>(), 1e-9);
  r = run("bench --data " + data.str() + " --dataset mnist --timed-steps 0");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("timed step"), std::string::npos) << r.output;
  r = run("bench --data " + data.str() + " --dataset mnist --precision fp16");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("bf16"), std::string::npos) << r.output;
}

}  // namespace

namespace {

TEST(Cli, AugmentPreviewWritesTheGridItReports) {
  TempDir data, dir;
  simclr::testing::write_toy_idx(data.str(), 8, 4, 12);
  const auto r = run("augment-preview --data " + data.str() + " --dataset mnist --out " + dir / "grid.png" +
                         " --images 3 --views 4 --json",
                     true);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto result = nlohmann::json::parse(r.output);
  const cv::Mat png = cv::imread(dir / "grid.png", cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, result["width"].get<int>());
  EXPECT_EQ(png.rows, result["height"].get<int>());
  EXPECT_EQ(result["images"], 3);
  EXPECT_EQ(result["views"], 4);
  // Views differ from each other: the grid is not one image repeated.
  const int tile = (png.cols - 2) / 5 - 2;
  const cv::Mat v1 = png(cv::Rect(2 + 1 * (tile + 2), 2, tile, tile)), v2 = png(cv::Rect(2 + 2 * (tile + 2), 2, tile, tile));
  EXPECT_GT(cv::norm(v1, v2, cv::NORM_L1), 0.0);

  const auto bad = run("augment-preview --data " + data.str() + " --dataset mnist --out " + dir / "x.png" + " --views 0");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("at least 1"), std::string::npos) << bad.output;
}

}  // namespace

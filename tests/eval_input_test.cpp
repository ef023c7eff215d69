// What evaluation refuses before it computes anything: data the checkpoint
// was not trained for, a dataset without a test split, test labels that do
// not mean what the training labels mean.
#include <opencv2/imgcodecs.hpp>

#include "simclr/data/dataset.h"
#include "simclr/eval/eval_model.h"
#include "simclr/eval/linear_eval.h"
#include "simclr/train/pretrain.h"
#include "test_util.h"

namespace simclr::eval {
namespace {
using testing::error_of;
using testing::TempDir;

void write_png(const std::string& path, int side = 8) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  cv::imwrite(path, cv::Mat(side, side, CV_8UC3, cv::Scalar(10, 200, 30)));
}

// A flat image folder: images of two classes, no train/ and test/.
void write_folder(const std::string& root, const std::vector<std::string>& classes, int side = 8) {
  for (const auto& c : classes) {
    for (int i = 0; i < 3; ++i) write_png(root + "/" + c + "/" + std::to_string(i) + ".png", side);
  }
}

TEST(EvalInput, ACheckpointOnDataWithOtherChannelsIsRefusedNamingBoth) {
  TempDir data, run, folder;
  testing::write_toy_idx(data.str(), 64, 16);
  auto config = testing::toy_config(data.str());
  config.train.steps = 1;
  train::pretrain(config, run / "r", false);
  serialize::CheckpointReader reader(run / "r");
  EXPECT_EQ(reader.input().channels, 1);
  EXPECT_EQ(reader.input().image_size, 12);
  write_folder(folder.str(), {"a", "b"}, 32);
  auto eval_config = reader.config();
  eval_config.data.dataset = "imagefolder";
  eval_config.data.path = folder.str();
  auto dataset = data::open_dataset(eval_config.data, data::Split::kTrain);
  const std::string message = error_of([&] { load_eval_model(eval_config, &reader, *dataset); });
  EXPECT_NE(message.find("expects 1-channel 12x12 images"), std::string::npos) << message;
  EXPECT_NE(message.find("has 3-channel 32x32"), std::string::npos) << message;
  EXPECT_NE(message.find(folder.str()), std::string::npos) << message;
}

TEST(EvalInput, NoTestSplitIsRefusedUnlessAskedFor) {
  TempDir folder;
  write_folder(folder.str(), {"a", "b"});
  config::Config c;
  c.data.dataset = "imagefolder";
  c.data.path = folder.str();
  EXPECT_FALSE(data::has_test_split(c.data));
  const std::string message = error_of([&] { scored_split(c, "linear-eval"); });
  EXPECT_NE(message.find("has no test split"), std::string::npos) << message;
  EXPECT_NE(message.find("--eval.test_on_train true"), std::string::npos) << message;
  c.eval.test_on_train = true;
  EXPECT_EQ(scored_split(c, "linear-eval"), "train");
  // With train/ and test/ it is a test split.
  TempDir split;
  write_folder(split / "train", {"a", "b"});
  write_folder(split / "test", {"a", "b"});
  c.data.path = split.str();
  EXPECT_EQ(scored_split(c, "linear-eval"), "test");
}

TEST(EvalInput, TestClassFoldersThatDifferFromTrainAreRefused) {
  TempDir split;
  write_folder(split / "train", {"cat", "dog"});
  write_folder(split / "test", {"cat", "emu"});
  config::DataConfig d;
  d.dataset = "imagefolder";
  d.path = split.str();
  auto train = data::open_dataset(d, data::Split::kTrain);
  auto test = data::open_dataset(d, data::Split::kTest);
  const std::string message = error_of([&] { data::check_split_labels(*train, *test, d); });
  EXPECT_NE(message.find("train/ (cat, dog) and test/ (cat, emu) differ"), std::string::npos) << message;
}

}  // namespace
}  // namespace simclr::eval

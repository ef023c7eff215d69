// Embeds a folder of images with a trained encoder, using the installed
// simclr library: the model is a `simclr export` TorchScript file or a
// pretraining checkpoint (or run directory); the embeddings (h, float32) go
// to a .npy file, one row per image in the folder's sorted order.
//
//   embed_folder MODEL IMAGES_DIR OUT.npy
#include <opencv2/imgproc.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/data/image_folder_dataset.h"
#include "simclr/io/npy.h"
#include "simclr/models/simclr_model.h"
#include "simclr/serialize/checkpoint.h"
#include "simclr/serialize/torchscript_export.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: embed_folder MODEL IMAGES_DIR OUT.npy\n"
                 "  MODEL: a file written by `simclr export`, or a checkpoint / run directory of `simclr pretrain`\n";
    return 2;
  }
  const std::string model_path = argv[1], images = argv[2], out = argv[3];
  try {
    // The encoder as a function of a [N, C, S, S] batch in [0, 1], and its input.
    std::function<torch::Tensor(const torch::Tensor&)> encode;
    int64_t side = 0, channels = 0;
    torch::jit::Module exported;
    simclr::models::SimclrModel model{nullptr};
    // An export carries simclr.json; a checkpoint (also a zip) does not.
    nlohmann::json meta;
    if (fs::is_regular_file(model_path)) {
      try {
        meta = simclr::serialize::read_export_info(model_path);
      } catch (const simclr::Error&) {
      }
    }
    if (!meta.is_null()) {
      side = meta["input"]["size"].get<int64_t>();
      channels = meta["input"]["channels"].get<int64_t>();
      exported = torch::jit::load(model_path);
      exported.eval();
      encode = [&](const torch::Tensor& x) { return exported.forward({x}).toTensor(); };
    } else {
      simclr::serialize::CheckpointReader reader(model_path);
      side = reader.input().image_size;
      channels = reader.input().channels;
      model = simclr::models::build_model(reader.config().model, channels, side);
      reader.load_model(model);
      model->eval();
      encode = [&](const torch::Tensor& x) { return model->encoder->forward(x); };
    }
    // A plain folder of images (no class folders) reads as unlabeled images.
    const auto dataset = simclr::data::ImageFolderDataset::open(images, simclr::data::Split::kTrain);
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> rows;
    const size_t batch = 64;
    for (size_t begin = 0; begin < dataset->size(); begin += batch) {
      const size_t n = std::min(batch, dataset->size() - begin);
      auto x = torch::empty({static_cast<int64_t>(n), channels, side, side});
      for (size_t i = 0; i < n; ++i) {
        // Images take the model's channels: grey for a model trained on grey.
        cv::Mat image = dataset->get(begin + i).image;
        if (image.channels() == 3 && channels == 1) cv::cvtColor(image, image, cv::COLOR_RGB2GRAY);
        if (image.channels() == 1 && channels == 3) cv::cvtColor(image, image, cv::COLOR_GRAY2RGB);
        const auto view = simclr::augment::eval_transform(image, static_cast<int>(side));
        simclr::augment::copy_to_tensor(view, x[static_cast<int64_t>(i)]);
      }
      rows.push_back(encode(x));
    }
    const auto h = torch::cat(rows);
    simclr::io::write_npy(out, h);
    std::cout << "embedded " << h.size(0) << " images of '" << images << "' into " << h.size(1)
              << "-dimensional h: " << out << "\n";
  } catch (const simclr::Error& e) {
    std::cerr << "embed_folder: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "embed_folder: " << e.what_without_backtrace() << "\n";
    return 1;
  }
  return 0;
}

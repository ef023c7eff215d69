#include "simclr/eval/finetune.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "simclr/augment/simclr_augment.h"
#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/data/subset.h"
#include "simclr/eval/eval_model.h"
#include "simclr/eval/linear_probe.h"
#include "simclr/optim/schedule.h"
#include "simclr/core/interrupt.h"

namespace simclr::eval {

FinetuneResult finetune(const config::Config& config, serialize::CheckpointReader* checkpoint) {
  using Clock = std::chrono::steady_clock;
  const auto& fc = config.finetune;
  const auto start = Clock::now();
  const std::string test_split = scored_split(config, "finetune");
  const ThreadPlan threads = configure_threads(static_cast<int>(config.train.threads), static_cast<int>(config.data.workers));
  auto train = data::open_dataset(config.data, data::Split::kTrain);
  auto test = data::open_dataset(config.data, data::Split::kTest);
  data::check_split_labels(*train, *test, config.data);
  const uint64_t seed = static_cast<uint64_t>(config.train.seed);
  auto labeled = std::make_shared<data::SubsetDataset>(train, data::balanced_subset(*train, fc.label_fraction, seed));

  EvalModel model = load_eval_model(config, checkpoint, *train);
  const int64_t blocks = config::feature_layer_blocks(fc.from_layer, config.model.head_layers, "finetune.from_layer");
  const int64_t classes = train->num_classes();
  torch::manual_seed(seed + 1);
  torch::nn::Linear classifier(model.model->head->output_dim(blocks), classes);
  classifier->to(model.device);
  std::vector<torch::Tensor> params = model.model->encoder->parameters();
  // Only the head's first `blocks` hidden blocks are used; the rest stay out
  // of the optimizer (they receive no gradient).
  for (const auto& p : model.model->head->block_parameters(blocks)) params.push_back(p);
  for (const auto& p : classifier->parameters()) params.push_back(p);
  torch::optim::SGD optimizer(
      params, torch::optim::SGDOptions(fc.lr).momentum(fc.momentum).nesterov(fc.momentum > 0).weight_decay(
                  fc.weight_decay));

  // Light augmentation: random resized crop + flip, no colour.
  config::AugmentConfig light = config.augment;
  light.pipeline = "crop,flip";
  light.pipeline_view2 = "same";
  light.crop_scale_min = fc.crop_scale_min;
  const augment::SimclrAugment augment(augment::AugmentOptions::from_config(light, train->image_side()));

  FinetuneResult r;
  r.labeled = static_cast<int64_t>(labeled->size());
  r.from_layer = fc.from_layer;
  r.epochs = fc.epochs > 0 ? fc.epochs : (fc.label_fraction <= 0.01 + 1e-12 ? 60 : 30);
  const int64_t per_epoch = (r.labeled + fc.batch_size - 1) / fc.batch_size;
  const double total = static_cast<double>(r.epochs * per_epoch);
  spdlog::info("fine-tuning from {} ({}) on {} labeled images ({:g}% of {}, class-balanced), {} epochs of {} steps",
               fc.from_layer, model.source, r.labeled, 100 * fc.label_fraction, train->size(), r.epochs, per_epoch);

  auto forward = [&](const torch::Tensor& images) {
    auto x = images.to(model.device);
    if (model.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    AutocastGuard autocast(model.precision, model.device);
    const auto h = model.model->encoder->forward(x);
    const auto f = blocks == 0 ? h : model.model->head->forward_to(h, blocks);
    return classifier->forward(f).to(torch::kFloat);
  };

  model.model->train();
  classifier->train();
  for (int64_t epoch = 0; epoch < r.epochs; ++epoch) {
    auto batches = pipeline::make_augmented_batches(labeled, augment, fc.batch_size, seed, epoch,
                                                threads.loader_workers, 4);
    int64_t correct = 0, seen = 0;
    double loss_sum = 0;
    while (auto batch = batches->next()) {
      check_interrupt();
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::SGDOptions&>(group.options())
            .lr(optim::warmup_cosine(static_cast<double>(r.steps), total, 0.0, fc.lr));
      }
      const auto logits = forward(batch->images);
      const auto labels = batch->labels.to(model.device);
      const auto loss = torch::nn::functional::cross_entropy(logits, labels);
      SIMCLR_CHECK(std::isfinite(loss.item<double>()),
                   "fine-tuning loss became {} at step {}; lower --finetune.lr", loss.item<double>(), r.steps);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      ++r.steps;
      loss_sum += loss.item<double>() * labels.size(0);
      correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
      seen += labels.size(0);
    }
    r.train_top1 = static_cast<double>(correct) / static_cast<double>(seen);
    if (epoch == 0 || (epoch + 1) % 10 == 0 || epoch + 1 == r.epochs) {
      spdlog::info("epoch {}/{} | loss {:.4f} | train top1 {:.3f}", epoch + 1, r.epochs, loss_sum / seen,
                   r.train_top1);
    }
  }

  model.model->eval();
  classifier->eval();
  std::vector<torch::Tensor> logits, labels;
  {
    torch::InferenceMode inference;
    auto batches = pipeline::make_eval_batches(test, model.image_size, config.eval.batch_size, threads.loader_workers, 4);
    while (auto batch = batches->next()) {
      logits.push_back(forward(batch->images).cpu());
      labels.push_back(batch->labels);
    }
  }
  const auto all_logits = torch::cat(logits), all_labels = torch::cat(labels);
  r.top1 = topk_accuracy(all_logits, all_labels, 1);
  r.top5 = topk_accuracy(all_logits, all_labels, std::min<int64_t>(5, classes));
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.test_split = test_split;
  return r;
}

}  // namespace simclr::eval

// Loader throughput: augmented view pairs per second, decoding included, as
// the pretraining loop receives them (ContrastiveLoader with worker threads
// and bounded prefetch). The consumer only touches each batch, so this is the
// most the loader can feed a model. bench/loader_vs_torchvision.py runs it
// side by side with torchvision's DataLoader on the same data and transforms.
//
//   build/bench/simclr_loader_bench --data.dataset imagefolder --data.path /tmp/cifar10
//       --data.workers 2 --seconds 20   (one command line)
// Any config key can be given as --section.key VALUE; prints one JSON line.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "simclr/augment/simclr_augment.h"
#include "simclr/config/config.h"
#include "simclr/core/error.h"
#include "simclr/core/threads.h"
#include "simclr/pipeline/contrastive_loader.h"
#include "simclr/data/dataset.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  try {
    simclr::config::Config config;
    config.train.batch_size = 256;
    double seconds = 20;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      SIMCLR_CHECK(arg.rfind("--", 0) == 0 && i + 1 < argc, "usage: simclr_loader_bench [--section.key VALUE]... "
                   "[--seconds S]; '{}' is not an option with a value", arg);
      const std::string value = argv[++i];
      if (arg == "--seconds") seconds = std::stod(value);
      else simclr::config::set(config, arg.substr(2), value);
    }
    simclr::config::validate(config);
    const auto threads = simclr::configure_threads(static_cast<int>(config.train.threads),
                                                   static_cast<int>(config.data.workers));
    auto dataset = simclr::data::open_dataset(config.data, simclr::data::Split::kTrain, true);
    const auto options = simclr::augment::AugmentOptions::from_config(config.augment, dataset->image_side());
    simclr::pipeline::ContrastiveLoader loader(dataset, simclr::augment::SimclrAugment(options),
                                           {config.train.batch_size, threads.loader_workers,
                                            static_cast<int>(config.data.prefetch),
                                            static_cast<uint64_t>(config.train.seed), true, 0, 1});
    std::cerr << dataset->describe() << "\naugment: " << options.describe() << "\n" << threads.describe() << "\n";
    int64_t epoch = 0, pairs = 0, batches = 0;
    double checksum = 0;
    loader.start_epoch(epoch);
    Clock::time_point start;
    for (;;) {
      auto batch = loader.next();
      if (!batch) {
        loader.start_epoch(++epoch);
        continue;
      }
      // Touch the batch so the work cannot be skipped; the first batch (which
      // includes thread start-up) is not timed, as for the DataLoader.
      checksum += batch->view1[0][0][0][0].item<float>() + batch->view2[0][0][0][0].item<float>();
      if (batches++ == 0) {
        start = Clock::now();
        continue;
      }
      pairs += batch->view1.size(0);
      if (std::chrono::duration<double>(Clock::now() - start).count() >= seconds) break;
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << nlohmann::json{{"loader", "simclr"},
                                {"pairs_per_second", pairs / elapsed},
                                {"pairs", pairs},
                                {"seconds", elapsed},
                                {"workers", threads.loader_workers},
                                {"batch_size", config.train.batch_size},
                                {"checksum", checksum}}
                     .dump()
              << std::endl;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "simclr_loader_bench: " << e.what() << "\n";
    return 1;
  }
}

#include "simclr/serialize/checkpoint.h"

#include <filesystem>

#include "simclr/core/error.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/zip_check.h"

namespace simclr::serialize {
namespace {
constexpr int64_t kFormatVersion = 1;
}

void save_checkpoint(const std::string& path, const config::Config& config, models::SimclrModel& model,
                     const optim::Lars& optimizer, const TrainState& state, const InputContract& input,
                     bool keep_previous, torch::serialize::OutputArchive* negative_memory) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", c10::IValue(kFormatVersion));
  archive.write("config", c10::IValue(config::to_yaml(config)));
  archive.write("step", c10::IValue(state.step));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("batch_in_epoch", c10::IValue(state.batch_in_epoch));
  archive.write("elapsed_seconds", c10::IValue(state.elapsed_seconds));
  archive.write("input_channels", c10::IValue(input.channels));
  archive.write("input_size", c10::IValue(input.image_size));
  torch::serialize::OutputArchive model_archive, optimizer_archive;
  model->save(model_archive);
  optimizer.save(optimizer_archive);
  archive.write("model", model_archive);
  archive.write("optimizer", optimizer_archive);
  if (negative_memory) archive.write("negative_memory", *negative_memory);
  WriteOptions options;
  if (keep_previous) options.keep_previous_as = kPreviousCheckpointFile;
  try {
    write_atomically(path, [&](std::ostream& out) { archive.save_to(out); }, options);
  } catch (const WriteError& e) {
    throw WriteError(fmt::format("checkpoint of step {} not saved: {}", state.step, e.what()), e.error_number);
  }
}

CheckpointReader::CheckpointReader(const std::string& path_or_run_dir) : path_(path_or_run_dir) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path_)) path_ = (fs::path(path_) / kCheckpointFile).string();
  SIMCLR_CHECK(fs::is_regular_file(path_),
               "no checkpoint at '{}'; pass a run directory written by 'simclr pretrain' or its checkpoint.pt", path_);
  io::verify_zip(path_, "checkpoint");  // LibTorch checks no CRC: a damaged file would load as wrong weights
  try {
    archive_.load_from(path_, torch::kCPU);  // the caller moves the model to its device
    c10::IValue version, yaml, step, epoch, batch, elapsed;
    archive_.read("format_version", version);
    SIMCLR_CHECK(version.toInt() == kFormatVersion, "checkpoint '{}' has format version {}, this simclr reads {}", path_,
                 version.toInt(), kFormatVersion);
    archive_.read("config", yaml);
    archive_.read("step", step);
    archive_.read("epoch", epoch);
    archive_.read("batch_in_epoch", batch);
    archive_.read("elapsed_seconds", elapsed);
    config::apply_yaml(config_, yaml.toStringRef(), path_);
    state_ = {step.toInt(), epoch.toInt(), batch.toInt(), elapsed.toDouble()};
    c10::IValue channels, size;
    if (archive_.try_read("input_channels", channels)) input_.channels = channels.toInt();
    if (archive_.try_read("input_size", size)) input_.image_size = size.toInt();
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read checkpoint '{}': not a simclr checkpoint, or corrupt ({})", path_,
                            e.what_without_backtrace()));
  }
}

void CheckpointReader::load_model(models::SimclrModel& model) {
  try {
    torch::serialize::InputArchive model_archive;
    archive_.read("model", model_archive);
    model->load(model_archive);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("checkpoint '{}' does not match the model built from its config: {}", path_,
                            e.what_without_backtrace()));
  }
}

void CheckpointReader::load_optimizer(optim::Lars& optimizer) {
  try {
    torch::serialize::InputArchive optimizer_archive;
    archive_.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read the optimizer state of checkpoint '{}': {}", path_, e.what_without_backtrace()));
  }
}

bool CheckpointReader::read_negative_memory(torch::serialize::InputArchive& out) {
  try {
    return archive_.try_read("negative_memory", out);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read the memory of negatives of checkpoint '{}': {}", path_,
                            e.what_without_backtrace()));
  }
}

}  // namespace simclr::serialize

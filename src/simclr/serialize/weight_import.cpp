#include "simclr/serialize/weight_import.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <torch/script.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "simclr/core/error.h"
#include "simclr/io/state_dict_reader.h"
#include "simclr/io/zip_check.h"

namespace simclr::serialize {
namespace {

// Both formats are zip archives. Which one a file is comes from its records,
// not from trying a reader: torch.jit.save writes <prefix>/constants.pkl and
// compiled code under <prefix>/code/, torch.save only <prefix>/data.pkl and
// the tensor data. So a torch.save file (or anything that is not TorchScript)
// never reaches LibTorch's unpickler, only io/state_dict_reader.h's strict
// one; every record is CRC-checked first.
std::map<std::string, torch::Tensor> read_state_dict(const std::string& path, std::string* format) {
  const io::ZipArchive zip(path, "weights file");
  zip.verify();
  const std::string first = zip.records().empty() ? std::string() : zip.records().front().name;
  const std::string prefix = first.substr(0, first.find('/') + 1);
  bool code = false;
  for (const auto& r : zip.records()) code = code || (!prefix.empty() && r.name.rfind(prefix + "code/", 0) == 0);
  std::map<std::string, torch::Tensor> out;
  if (code && zip.find(prefix + "constants.pkl")) {
    try {
      torch::jit::Module module = torch::jit::load(path, torch::kCPU);
      for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.name] = p.value;
      for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.name] = b.value;
    } catch (const c10::Error& e) {
      throw Error(fmt::format("cannot read weights '{}': it holds TorchScript code, but torch::jit::load refuses it "
                              "({}); save it again with torch.jit.save, or save model.state_dict() with torch.save",
                              path, e.what_without_backtrace()));
    }
    *format = "TorchScript";
    return out;
  }
  try {
    out = io::read_torch_save_state_dict(zip);
  } catch (const Error& e) {
    throw Error(fmt::format("cannot read weights '{}': not a TorchScript module, and as a torch.save file: {}", path,
                            e.what()));
  }
  *format = "state dict";
  return out;
}

// Strips the wrapper prefixes one at a time, but stops at a name the encoder
// has: a ViT's own tensors start with "encoder." (torchvision's names).
std::string strip_prefixes(std::string name, const torch::OrderedDict<std::string, torch::Tensor>& targets) {
  for (const char* prefix : {"module.", "encoder.", "backbone."}) {
    if (targets.contains(name)) break;
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::strlen(prefix));
  }
  return name;
}

}  // namespace

ImportReport import_encoder_weights(models::EncoderImpl& encoder, const std::string& path) {
  SIMCLR_CHECK(std::filesystem::is_regular_file(path), "weights file '{}' does not exist (model.init_weights)", path);
  ImportReport report;
  const auto loaded = read_state_dict(path, &report.format);
  auto targets = encoder.named_parameters(true);
  for (const auto& b : encoder.named_buffers(true)) targets.insert(b.key(), b.value());
  std::map<std::string, torch::Tensor> weights;
  for (const auto& [name, tensor] : loaded) {
    const std::string key = strip_prefixes(name, targets);
    std::vector<std::string> skipped = encoder.classifier_prefixes();
    skipped.insert(skipped.end(), {"head.", "projector."});
    if (std::any_of(skipped.begin(), skipped.end(), [&](const std::string& p) { return key.rfind(p, 0) == 0; })) {
      ++report.ignored;
      continue;
    }
    weights[key] = tensor;
  }
  std::vector<std::string> missing, mismatched;
  torch::NoGradGuard no_grad;
  for (auto& target : targets) {
    const auto it = weights.find(target.key());
    if (it == weights.end()) {
      missing.push_back(target.key());
      continue;
    }
    if (it->second.sizes() != target.value().sizes()) {
      mismatched.push_back(c10::str(target.key(), " ", it->second.sizes(), " vs ", target.value().sizes()));
    } else {
      target.value().copy_(it->second.to(target.value().dtype()));
      ++report.tensors;
    }
    weights.erase(it);
  }
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", " : "") + v[i];
    return v.size() > 8 ? s + fmt::format(", ... ({} in all)", v.size()) : s;
  };
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : weights) unexpected.push_back(name);
  SIMCLR_CHECK(missing.empty() && mismatched.empty() && unexpected.empty(),
               "weights '{}' ({}) do not fit this encoder ({}): missing [{}], shape mismatch [{}], unexpected [{}]; "
               "set {} to the saved network's",
               path, report.format, encoder.summary(), list(missing), list(mismatched), list(unexpected),
               encoder.shape_options());
  return report;
}

void maybe_import_weights(const models::ModelOptions& config, models::SimclrModel& model) {
  if (config.init_weights.empty()) return;
  const auto r = import_encoder_weights(model->encoder, config.init_weights);
  spdlog::info("encoder initialised from '{}' ({}): {} tensors set, {} classifier/head tensors ignored",
               config.init_weights, r.format, r.tensors, r.ignored);
}

}  // namespace simclr::serialize

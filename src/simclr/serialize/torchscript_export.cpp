#include "simclr/serialize/torchscript_export.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>

#include <map>
#include <sstream>

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/zip_check.h"

namespace simclr::serialize {
namespace {

// Records `fn` (a C++ forward pass) as method `name` of `module`: the
// tracer sees every tensor operation the C++ code runs, and since the
// parameters it reads are the very tensors registered in `module`, they
// appear as attributes of `self`, not as constants. So the export is the
// network's one definition (its forward), traced, never a second copy.
void define_traced_method(torch::jit::Module& module, const std::string& name, const torch::Tensor& example,
                          const std::function<torch::Tensor(const torch::Tensor&)>& fn) {
  auto traced = torch::jit::tracer::trace(
      {example}, [&](torch::jit::Stack inputs) -> torch::jit::Stack { return {fn(inputs.at(0).toTensor())}; },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/true, /*force_outplace=*/false,
      &module, {name == "forward" ? "x" : "h"});
  auto fn_def = module._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module.type()->name(), name), std::get<0>(traced)->graph);
  module.type()->addMethod(fn_def);
}

}  // namespace

nlohmann::json export_torchscript(models::SimclrModel& model, const ExportInfo& info, bool with_head,
                                  const std::string& path) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();  // BN uses its running statistics, as the export promises
  // The module tree mirrors the parameter names: one submodule per dotted
  // prefix, holding the model's own tensors (the tracer finds them by
  // identity, so they must not be copies).
  struct Node {
    std::map<std::string, Node> children;
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::vector<bool> is_buffer;
  };
  Node root;
  auto add = [&](const std::string& name, const torch::Tensor& t, bool buffer) {
    TORCH_INTERNAL_ASSERT(t.device().is_cpu(), "export the model from the CPU");
    Node* n = &root;
    std::stringstream parts(name);
    std::string p;
    std::vector<std::string> segments;
    while (std::getline(parts, p, '.')) segments.push_back(p);
    for (size_t i = 0; i + 1 < segments.size(); ++i) n = &n->children[segments[i]];
    n->tensors.emplace_back(segments.back(), t);
    n->is_buffer.push_back(buffer);
  };
  for (const auto& p : model->encoder->named_parameters()) add(p.key(), p.value(), false);
  for (const auto& b : model->encoder->named_buffers()) add(b.key(), b.value(), true);
  if (with_head) {
    for (const auto& p : model->head->named_parameters()) add("head." + p.key(), p.value(), false);
    for (const auto& b : model->head->named_buffers()) add("head." + b.key(), b.value(), true);
  }
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  int counter = 0;
  std::function<torch::jit::Module(const Node&, const std::string&)> build = [&](const Node& node,
                                                                                  const std::string& type) {
    torch::jit::Module m(c10::QualifiedName("__torch__.simclr_export." + type + std::to_string(counter++)), cu);
    for (const auto& [name, sub] : node.children) m.register_module(name, build(sub, "Module"));
    for (size_t i = 0; i < node.tensors.size(); ++i) {
      m.register_parameter(node.tensors[i].first, node.tensors[i].second, node.is_buffer[i]);
    }
    return m;
  };
  torch::jit::Module module = build(root, "Encoder");
  const auto& encoder = *model->encoder;
  nlohmann::json meta = {
      {"format", "simclr TorchScript export v1"},
      {"input", {{"layout", "NCHW"}, {"dtype", "float32"}, {"range", "[0, 1]"}, {"channels", info.input_channels},
                 {"size", info.input_size}}},
      {"preprocessing", "RGB (or grey) scaled to [0, 1]; no mean/std normalisation; resize the shorter side to size "
                        "and centre-crop"},
      {"outputs", with_head ? nlohmann::json{{"forward", "h"}, {"project", "z = head(h)"}}
                            : nlohmann::json{{"forward", "h"}}},
      {"encoder", encoder.summary()},
      {"feature_dim", encoder.feature_dim()},
      {"with_head", with_head},
      {"source", info.source},
      {"torch_version", TORCH_VERSION},
  };
  meta.update(encoder.describe());  // arch and the keys that fix its shape
  module.register_attribute("input_size", c10::IntType::get(), info.input_size);
  module.register_attribute("input_channels", c10::IntType::get(), info.input_channels);
  module.register_attribute("feature_dim", c10::IntType::get(), encoder.feature_dim());
  module.register_attribute("preprocessing", c10::StringType::get(), meta["preprocessing"].get<std::string>());
  // Two images: a batch of one would let batch norm's shape checks pass for
  // reasons that do not hold for other batch sizes.
  const auto x = torch::rand({2, info.input_channels, info.input_size, info.input_size});
  define_traced_method(module, "forward", x, [&](const torch::Tensor& in) { return model->encoder->forward(in); });
  if (with_head) {
    const auto h = model->encoder->forward(x);
    define_traced_method(module, "project", h, [&](const torch::Tensor& in) { return model->head->forward(in); });
  }
  model->train(was_training);
  module.eval();
  torch::jit::ExtraFilesMap extra = {{"simclr.json", meta.dump(2)}, {"config.yaml", info.config_yaml}};
  interrupt_point("export");
  write_atomically(path, [&](std::ostream& out) { module.save(out, extra); });
  return meta;
}

nlohmann::json read_export_info(const std::string& path) {
  torch::jit::ExtraFilesMap extra = {{"simclr.json", ""}};
  io::verify_zip(path, "exported module");  // LibTorch checks no CRC
  try {
    torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read '{}' as a TorchScript module: {}", path, e.what_without_backtrace()));
  }
  SIMCLR_CHECK(!extra["simclr.json"].empty(), "'{}' is a TorchScript module but not one exported by simclr export",
               path);
  return nlohmann::json::parse(extra["simclr.json"]);
}

}  // namespace simclr::serialize

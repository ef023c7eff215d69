#include "simclr/io/torchscript_export.h"

#include <torch/script.h>

#include <map>
#include <sstream>
#include <string_view>

#include "simclr/core/error.h"
#include "simclr/core/interrupt.h"
#include "simclr/core/torch_compat.h"
#include "simclr/io/atomic_file.h"
#include "simclr/io/zip_check.h"

namespace simclr::io {
namespace nn = torch::nn;
namespace {

// "layer1.0.conv1" -> getattr(getattr(self.layer1, "0"), "conv1") style
// access; numeric names (Sequential children) need getattr.
std::string ref(const std::string& dotted) {
  std::string out = "self";
  std::stringstream parts(dotted);
  std::string p;
  while (std::getline(parts, p, '.')) {
    out = std::isdigit(static_cast<unsigned char>(p[0])) ? fmt::format("getattr({}, \"{}\")", out, p) : out + "." + p;
  }
  return out;
}

std::string conv(const std::string& name, const nn::Conv2dImpl& c, const std::string& x) {
  const auto& o = c.options;
  const auto& pad = compat::get<torch::ExpandingArray<2>>(o.padding());
  TORCH_INTERNAL_ASSERT(!o.bias() && o.groups() == 1);
  return fmt::format("torch.conv2d({}, {}.weight, None, [{}, {}], [{}, {}], [{}, {}], 1)", x, ref(name),
                     (*o.stride())[0], (*o.stride())[1], (*pad)[0], (*pad)[1], (*o.dilation())[0],
                     (*o.dilation())[1]);
}

template <class BatchNorm>
std::string batch_norm(const std::string& name, const BatchNorm& bn, const std::string& x) {
  const std::string r = ref(name);
  return fmt::format("torch.batch_norm({}, {}.weight, {}.bias, {}.running_mean, {}.running_var, False, 0.1, {}, True)", x,
                     r, r, r, r, bn.options.eps());
}

const nn::Module& child(const nn::Module& m, std::string_view name) {
  for (const auto& c : m.named_children()) {
    if (c.key() == name) return *c.value();
  }
  TORCH_INTERNAL_ASSERT(false, "no submodule ", name);
}

// One residual block (BasicBlock or Bottleneck), from its registered
// submodules: conv1/bn1, conv2/bn2[, conv3/bn3][, downsample.0/.1].
void emit_block(std::ostream& s, const std::string& name, const nn::Module& block) {
  s << "        identity = x\n";
  int n = 1;
  std::string y = "x";
  for (; n <= 3; ++n) {
    const std::string c = "conv" + std::to_string(n), b = "bn" + std::to_string(n);
    bool has = false;
    for (const auto& ch : block.named_children()) has |= ch.key() == c;
    if (!has) break;
    if (n > 1) s << "        y = torch.relu(y)\n";
    s << "        y = " << conv(name + "." + c, *child(block, c).as<nn::Conv2d>(), y) << "\n";
    s << "        y = " << batch_norm(name + "." + b, *child(block, b).as<models::BatchNorm>(), "y") << "\n";
    y = "y";
  }
  bool downsample = false;
  for (const auto& ch : block.named_children()) downsample |= ch.key() == "downsample";
  if (downsample) {
    const auto& d = child(block, "downsample");
    s << "        identity = " << conv(name + ".downsample.0", *child(d, "0").as<nn::Conv2d>(), "x") << "\n";
    s << "        identity = "
      << batch_norm(name + ".downsample.1", *child(d, "1").as<models::BatchNorm>(), "identity") << "\n";
  }
  s << "        x = torch.relu(y + identity)\n";
}

}  // namespace

std::string torchscript_source(models::SimclrModel& model, bool with_head) {
  const auto& enc = *model->encoder;
  std::ostringstream s;
  s << "def forward(self, x: Tensor) -> Tensor:\n";
  s << "        x = " << conv("conv1", *child(enc, "conv1").as<nn::Conv2d>(), "x") << "\n";
  s << "        x = torch.relu(" << batch_norm("bn1", *child(enc, "bn1").as<models::BatchNorm>(), "x") << ")\n";
  if (!enc.options().cifar_stem()) s << "        x = torch.max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], False)\n";
  for (int l = 1; l <= 4; ++l) {
    const std::string layer = "layer" + std::to_string(l);
    for (const auto& b : child(enc, layer).named_children()) emit_block(s, layer + "." + b.key(), *b.value());
  }
  s << "        return torch.flatten(torch.adaptive_avg_pool2d(x, [1, 1]), 1)\n";
  if (with_head) {
    s << "\ndef project(self, h: Tensor) -> Tensor:\n        x = h\n";
    const auto& mlp = child(*model->head, "mlp");
    for (const auto& m : mlp.named_children()) {
      const std::string name = "head.mlp." + m.key();
      if (const auto* lin = m.value()->as<nn::Linear>()) {
        s << "        x = torch.linear(x, " << ref(name) << ".weight, "
          << (lin->options.bias() ? ref(name) + ".bias" : "None") << ")\n";
      } else if (const auto* bn = m.value()->as<models::BatchNorm>()) {
        s << "        x = " << batch_norm(name, *bn, "x") << "\n";
      } else {
        s << "        x = torch.relu(x)\n";
      }
    }
    s << "        return x\n";
  }
  return s.str();
}

nlohmann::json export_torchscript(models::SimclrModel& model, const ExportInfo& info, bool with_head,
                                  const std::string& path) {
  // The module tree mirrors the parameter names: one (empty) submodule per
  // dotted prefix, built leaves first.
  struct Node {
    std::map<std::string, Node> children;
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::vector<bool> is_buffer;
  };
  Node root;
  auto add = [&](const std::string& name, const torch::Tensor& t, bool buffer) {
    Node* n = &root;
    std::stringstream parts(name);
    std::string p, last;
    std::vector<std::string> segments;
    while (std::getline(parts, p, '.')) segments.push_back(p);
    for (size_t i = 0; i + 1 < segments.size(); ++i) n = &n->children[segments[i]];
    n->tensors.emplace_back(segments.back(), t.detach().to(torch::kCPU).contiguous().clone());
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
  const auto& enc = model->encoder->options();
  nlohmann::json meta = {
      {"format", "simclr TorchScript export v1"},
      {"input", {{"layout", "NCHW"}, {"dtype", "float32"}, {"range", "[0, 1]"}, {"channels", info.input_channels},
                 {"size", info.input_size}}},
      {"preprocessing", "RGB (or grey) scaled to [0, 1]; no mean/std normalisation; resize the shorter side to size "
                        "and centre-crop"},
      {"outputs", with_head ? nlohmann::json{{"forward", "h"}, {"project", "z = head(h)"}}
                            : nlohmann::json{{"forward", "h"}}},
      {"arch", enc.arch()},
      {"width", enc.width()},
      {"stem", enc.cifar_stem() ? "cifar" : "imagenet"},
      {"feature_dim", model->encoder->feature_dim()},
      {"with_head", with_head},
      {"source", info.source},
      {"torch_version", TORCH_VERSION},
  };
  module.register_attribute("input_size", c10::IntType::get(), info.input_size);
  module.register_attribute("input_channels", c10::IntType::get(), info.input_channels);
  module.register_attribute("feature_dim", c10::IntType::get(), model->encoder->feature_dim());
  module.register_attribute("preprocessing", c10::StringType::get(), meta["preprocessing"].get<std::string>());
  try {
    module.define(torchscript_source(model, with_head));
  } catch (const c10::Error& e) {
    TORCH_INTERNAL_ASSERT(false, "generated TorchScript does not compile: ", e.what_without_backtrace());
  }
  module.eval();
  torch::jit::ExtraFilesMap extra = {{"simclr.json", meta.dump(2)}, {"config.yaml", info.config_yaml}};
  interrupt_point("export");
  write_atomically(path, [&](std::ostream& out) { module.save(out, extra); });
  return meta;
}

nlohmann::json read_export_info(const std::string& path) {
  torch::jit::ExtraFilesMap extra = {{"simclr.json", ""}};
  verify_zip(path, "exported module");  // LibTorch checks no CRC
  try {
    torch::jit::load(path, torch::kCPU, extra);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("cannot read '{}' as a TorchScript module: {}", path, e.what_without_backtrace()));
  }
  SIMCLR_CHECK(!extra["simclr.json"].empty(), "'{}' is a TorchScript module but not one exported by simclr export",
               path);
  return nlohmann::json::parse(extra["simclr.json"]);
}

}  // namespace simclr::io

// Models and embeddings leaving the program: TorchScript export (loaded back
// by torch::jit::load here and by Python's torch.jit.load), .npy embeddings,
// and weights imported from PyTorch (torchvision state dicts and TorchScript).
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/script.h>

#include <cstdio>

#include "simclr/models/resnet.h"
#include "simclr/models/vision_transformer.h"
#include "simclr/data/idx_dataset.h"
#include "simclr/eval/embed.h"
#include "simclr/eval/finetune.h"
#include "simclr/io/npy.h"
#include "simclr/serialize/torchscript_export.h"
#include "simclr/serialize/weight_import.h"
#include "simclr/train/pretrain.h"
#include "test_util.h"

namespace simclr {
namespace {
using testing::TempDir;

// Runs the PyTorch side (tests/interop/interop.py) with Debian's Python.
std::string python(const std::string& args) {
  const std::string cmd = std::string(SIMCLR_PYTHON) + " " + SIMCLR_SOURCE_DIR + "/tests/interop/interop.py " + args +
                          " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  EXPECT_EQ(pclose(pipe), 0) << cmd << "\n" << out;
  return out;
}

TEST(Npy, RoundTripAndHeaderAlignment) {
  TempDir dir;
  const auto t = torch::randn({5, 3});
  io::write_npy(dir / "a.npy", t);
  EXPECT_TRUE(torch::equal(io::read_npy(dir / "a.npy"), t));
  std::ifstream in(dir / "a.npy", std::ios::binary);
  std::string head(10, ' ');
  in.read(head.data(), 10);
  const size_t header_len = static_cast<unsigned char>(head[8]) | static_cast<unsigned char>(head[9]) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);  // data 64-byte aligned, as numpy writes it
  io::write_npy(dir / "v.npy", torch::arange(4, torch::kFloat));
  EXPECT_EQ(io::read_npy(dir / "v.npy").sizes().vec(), std::vector<int64_t>{4});
}

models::SimclrModel small_model(const std::string& arch, bool cifar_stem, int64_t width) {
  config::ModelConfig mc;
  mc.arch = arch;
  mc.width = width;
  mc.stem = cifar_stem ? "cifar" : "imagenet";
  mc.head_layers = 3;
  torch::manual_seed(1);
  auto m = models::build_model(mc, 3, cifar_stem ? 16 : 64);
  // Train-mode passes give BN non-trivial running statistics.
  m->train();
  {
    torch::NoGradGuard ng;
    for (int i = 0; i < 3; ++i) m->forward(torch::rand({8, 3, cifar_stem ? 16 : 64, cifar_stem ? 16 : 64}) * 2);
  }
  m->eval();
  return m;
}

TEST(TorchscriptExport, LoadsInCppAndGivesTheSameHAndZ) {
  TempDir dir;
  for (auto [arch, cifar] : {std::pair{"resnet18", true}, {"resnet50", false}, {"resnet34", true}}) {
    auto m = small_model(arch, cifar, 8);
    serialize::ExportInfo info;
    info.input_size = cifar ? 16 : 64;
    const auto meta = serialize::export_torchscript(m, info, /*with_head=*/true, dir / "m.pt");
    EXPECT_EQ(meta["feature_dim"].get<int64_t>(), m->encoder->feature_dim());
    auto loaded = torch::jit::load(dir / "m.pt");
    const auto x = torch::rand({2, 3, info.input_size, info.input_size});
    torch::NoGradGuard ng;
    const auto h_ref = m->encoder->forward(x);
    const auto h = loaded.forward({x}).toTensor();
    EXPECT_LT((h - h_ref).abs().max().item<double>(), 1e-5) << arch;
    const auto z = loaded.get_method("project")({h}).toTensor();
    EXPECT_LT((z - m->head->forward(h_ref)).abs().max().item<double>(), 1e-5) << arch;
    EXPECT_EQ(loaded.attr("input_size").toInt(), info.input_size);
    // The names are torchvision's, so the state dict is interchangeable.
    std::set<std::string> names;
    for (const auto& p : loaded.named_parameters()) names.insert(p.name);
    EXPECT_TRUE(names.count("layer1.0.conv1.weight")) << arch;
    EXPECT_TRUE(names.count("layer2.0.downsample.0.weight")) << arch;
    EXPECT_EQ(serialize::read_export_info(dir / "m.pt")["arch"], arch);
  }
  std::ofstream(dir / "junk.pt") << "not a module";
  EXPECT_NE(testing::error_of([&] { serialize::read_export_info(dir / "junk.pt"); }).find("junk.pt"), std::string::npos);
}

TEST(Interop, ExportedModuleInPythonGivesTheEmbeddingsOfSimclrEmbed) {
  TempDir data, run;
  testing::write_toy_idx(data.str(), 64, 24);
  auto config = testing::toy_config(data.str());
  config.train.steps = 3;
  train::pretrain(config, run / "r", false);
  serialize::CheckpointReader reader(run / "r");
  // C++: embeddings of the test split, fp32, and the export.
  auto eval_config = reader.config();
  eval_config.train.precision = "fp32";
  const auto e = eval::embed(eval_config, &reader, "test", run / "emb.npy");
  EXPECT_EQ(e.rows, 24);
  auto ds = data::IdxDataset::open_folder(data.str(), data::Split::kTest);
  auto model = models::build_model(reader.config().model, 1, 12);
  reader.load_model(model);
  model->eval();
  serialize::ExportInfo info;
  info.input_size = 12;
  info.input_channels = 1;
  serialize::export_torchscript(model, info, false, run / "enc.pt");
  // The index maps rows to sources and labels.
  std::ifstream index(eval::index_path_for(run / "emb.npy"));
  std::string header, row1;
  std::getline(index, header);
  std::getline(index, row1);
  EXPECT_EQ(header, "row,source,label");
  EXPECT_NE(row1.find("t10k-images-idx3-ubyte.gz#0,0"), std::string::npos) << row1;
  // Python: torch.jit.load, embed the same images, compare.
  python("embed-exported " + run / "enc.pt" + " " + data / "t10k-images-idx3-ubyte.gz" + " " + run / "py.npy");
  const double relative = std::stod(python("compare " + run / "emb.npy" + " " + run / "py.npy"));
  EXPECT_LT(relative, 1e-5);  // of the largest value; fp32 with other kernel orders
}

TEST(Interop, TorchvisionWeightsGiveTorchvisionsOutputs) {
  TempDir dir;
  python("torchvision-weights " + dir.str());
  const auto x = io::read_npy(dir / "input.npy"), expected = io::read_npy(dir / "h.npy");
  for (const char* file : {"resnet18_state_dict.pt", "resnet18_scripted.pt"}) {
    auto encoder = models::ResNet(models::ResNetOptions("resnet18").width(64).in_channels(3).cifar_stem(false));
    const auto report = serialize::import_encoder_weights(encoder, dir / file);
    EXPECT_EQ(report.ignored, 2) << file;  // fc.weight, fc.bias
    encoder->eval();
    torch::NoGradGuard ng;
    const double diff = (encoder->forward(x) - expected).abs().max().item<double>();
    EXPECT_LT(diff, 1e-5) << file;
  }
  // A network of another shape is refused with the names that do not fit.
  auto narrow = models::ResNet(models::ResNetOptions("resnet18").width(32).in_channels(3).cifar_stem(false));
  const auto msg = testing::error_of([&] { serialize::import_encoder_weights(narrow, dir / "resnet18_state_dict.pt"); });
  EXPECT_NE(msg.find("shape mismatch [conv1.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--width"), std::string::npos) << msg;
  std::ofstream(dir / "junk.pt") << "junk";
  EXPECT_NE(testing::error_of([&] { serialize::import_encoder_weights(narrow, dir / "junk.pt"); }).find("junk.pt"),
            std::string::npos);
}

TEST(Interop, TorchvisionVitWeightsGiveTorchvisionsOutputs) {
  TempDir dir;
  python("torchvision-vit " + dir.str());
  const auto x = io::read_npy(dir / "vit_input.npy"), expected = io::read_npy(dir / "vit_h.npy");
  auto vit = models::VisionTransformer(
      models::VisionTransformerOptions(32, 4).layers(2).heads(3).hidden_dim(48).mlp_dim(96));
  const auto report = serialize::import_encoder_weights(vit, dir / "vit_state_dict.pt");
  EXPECT_EQ(report.ignored, 2);  // heads.head.weight, heads.head.bias
  vit->eval();
  torch::NoGradGuard ng;
  EXPECT_LT((vit->forward(x) - expected).abs().max().item<double>(), 1e-5);
  // Another patch size is refused, naming the tensors and the option.
  auto other = models::VisionTransformer(
      models::VisionTransformerOptions(32, 8).layers(2).heads(3).hidden_dim(48).mlp_dim(96));
  const auto msg = testing::error_of([&] { serialize::import_encoder_weights(other, dir / "vit_state_dict.pt"); });
  EXPECT_NE(msg.find("shape mismatch [conv_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--model.patch_size"), std::string::npos) << msg;
}

// Every registered encoder exports, and the traced module gives the C++
// network's h and z, for a batch size other than the one traced.
TEST(TorchscriptExport, EveryEncoderExportsAndMatchesForAnyBatchSize) {
  TempDir dir;
  // LibTorch 2.x's profiling executor compiles TensorExpr fusion kernels with
  // LLVM on a loaded module's first calls; for the 12-layer ViTs that takes
  // minutes on 2 cores, once per input shape. The values are the same with
  // and without fusion, so the test runs without it.
  const bool fuser = torch::jit::tensorExprFuserEnabled();
  torch::jit::setTensorExprFuserEnabled(false);
  for (const auto& name : models::encoders().names()) {
    config::ModelConfig mc;
    mc.arch = name;
    if (name.rfind("resnet", 0) == 0) mc.width = 8;
    torch::manual_seed(2);
    auto m = models::build_model(mc, 3, 16);
    m->train();
    {
      torch::NoGradGuard ng;
      m->forward(torch::rand({6, 3, 16, 16}));  // non-trivial BN statistics
    }
    m->eval();
    serialize::ExportInfo info;
    info.input_size = 16;
    const auto meta = serialize::export_torchscript(m, info, /*with_head=*/true, dir / (name + ".pt"));
    EXPECT_EQ(meta["arch"], name);
    EXPECT_EQ(meta["encoder"], m->encoder->summary());
    auto loaded = torch::jit::load(dir / (name + ".pt"));
    torch::NoGradGuard ng;
    for (int64_t batch : {1, 5}) {
      const auto x = torch::rand({batch, 3, 16, 16});
      const auto h = loaded.forward({x}).toTensor();
      const auto h_ref = m->encoder->forward(x);
      EXPECT_EQ(h.sizes(), h_ref.sizes()) << name;
      EXPECT_LT((h - h_ref).abs().max().item<double>(), 1e-4) << name << " batch " << batch;
      const auto z = loaded.get_method("project")({h}).toTensor();
      EXPECT_LT((z - m->head->forward(h_ref)).abs().max().item<double>(), 1e-4) << name << " batch " << batch;
    }
  }
  torch::jit::setTensorExprFuserEnabled(fuser);
}

TEST(Finetune, LearnsTheToyClassesFromAFewLabelsAndFromScratch) {
  TempDir data, run;
  testing::write_toy_idx(data.str(), 200, 40, 12, true, /*vertical=*/true);  // classes survive flips
  auto config = testing::toy_config(data.str());
  config.train.steps = 5;
  train::pretrain(config, run / "r", false);
  serialize::CheckpointReader reader(run / "r");
  auto fc = reader.config();
  fc.finetune.label_fraction = 0.2;
  fc.finetune.epochs = 20;
  fc.finetune.batch_size = 8;
  fc.finetune.from_layer = "head1";
  fc.finetune.crop_scale_min = 0.5;  // keep the blob in view
  const auto r = eval::finetune(fc, &reader);
  EXPECT_EQ(r.labeled, 40);
  EXPECT_EQ(r.steps, 20 * 5);
  EXPECT_GT(r.top1, 0.75);  // two easy classes
  EXPECT_EQ(r.top5, 1.0);   // two classes: top-5 holds every class
  const auto scratch = eval::finetune(fc, nullptr);
  EXPECT_GE(scratch.top1, 0.0);
  EXPECT_LE(scratch.top1, 1.0);
  fc.finetune.from_layer = "z";
  EXPECT_THROW(config::validate(fc), Error);
}

}  // namespace
}  // namespace simclr

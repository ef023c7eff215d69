#include "simclr/models/resnet.h"
#include "simclr/models/simclr_model.h"
#include "simclr/models/vision_transformer.h"

#include "test_util.h"

namespace simclr::models {
namespace {
using testing::golden;

class ResNetNames : public ::testing::TestWithParam<std::string> {};

TEST_P(ResNetNames, ParameterAndBufferNamesShapesAndCountMatchTorchvision) {
  const auto& ref = golden()["resnet"][GetParam()];
  ResNet net{ResNetOptions(GetParam())};
  const auto params = net->named_parameters();
  ASSERT_EQ(params.size(), ref["parameters"].size());
  int64_t count = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, shape] = std::pair{ref["parameters"][i][0].get<std::string>(),
                                          ref["parameters"][i][1].get<std::vector<int64_t>>()};
    ASSERT_TRUE(params.contains(name)) << name;
    EXPECT_EQ(params[name].sizes().vec(), shape) << name;
    count += params[name].numel();
  }
  EXPECT_EQ(count, ref["num_parameters"].get<int64_t>());
  const auto buffers = net->named_buffers();
  for (const auto& b : ref["buffers"]) {
    ASSERT_TRUE(buffers.contains(b[0].get<std::string>())) << b[0];
  }
  EXPECT_EQ(net->feature_dim(), ref["feature_dim"].get<int64_t>());
  // FLOPs counted by forward hooks on torchvision's convolutions.
  EXPECT_EQ(net->forward_flops(224), ref["conv_flops_224"].get<int64_t>());
  if (ref.contains("cifar_conv_flops_32")) {
    ResNet cifar{ResNetOptions(GetParam()).cifar_stem(true)};
    EXPECT_EQ(cifar->forward_flops(32), ref["cifar_conv_flops_32"].get<int64_t>());
  }
}
INSTANTIATE_TEST_SUITE_P(Torchvision, ResNetNames, ::testing::Values("resnet18", "resnet34", "resnet50"));

TEST(ResNet, WidthStemAndChannels) {
  ResNet half(ResNetOptions("resnet18").width(32).in_channels(1).cifar_stem(true));
  EXPECT_EQ(half->feature_dim(), 256);
  EXPECT_EQ(half->named_parameters()["conv1.weight"].sizes().vec(), (std::vector<int64_t>{32, 1, 3, 3}));
  auto h = half->forward(torch::rand({2, 1, 28, 28}));
  EXPECT_EQ(h.sizes().vec(), (std::vector<int64_t>{2, 256}));
  ResNet wide(ResNetOptions("resnet50").width(128));
  EXPECT_EQ(wide->feature_dim(), 4096);  // the paper's ResNet-50 (2x)
}

TEST(ResNet, FlopsScaleWithWidthSquaredAndArea) {
  // Every convolution's FLOPs go as in x out channels and output area; the
  // stem's input has fixed channels, so it scales with width only.
  ResNet full(ResNetOptions("resnet18").cifar_stem(true)), half(ResNetOptions("resnet18").width(32).cifar_stem(true));
  const int64_t stem64 = 2 * 3 * 64 * 9 * 32 * 32, stem32 = stem64 / 2;
  EXPECT_EQ(full->forward_flops(32) - stem64, 4 * (half->forward_flops(32) - stem32));
  EXPECT_EQ(full->forward_flops(64), 4 * full->forward_flops(32));
}

TEST(ProjectionHead, FlopsCountTheLinearLayers) {
  ProjectionHead head(ProjectionHeadOptions(512).out_dim(128).layers(3).hidden_dim(256));
  EXPECT_EQ(head->forward_flops(), 2 * (512 * 256 + 256 * 256 + 256 * 128));
  ProjectionHead linear(ProjectionHeadOptions(512).out_dim(128).layers(1));
  EXPECT_EQ(linear->forward_flops(), 2 * 512 * 128);
}

TEST(ResNet, InitialisationFollowsTorchvision) {
  ResNet net(ResNetOptions("resnet18"));
  auto p = net->named_parameters();
  EXPECT_TRUE(torch::equal(p["bn1.weight"], torch::ones({64})));
  EXPECT_TRUE(torch::equal(p["layer1.0.bn2.bias"], torch::zeros({64})));
  // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (64 * 3 * 3)).
  EXPECT_NEAR(p["layer1.0.conv1.weight"].std().item<double>(), std::sqrt(2.0 / (64 * 9)), 0.005);
}

TEST(SimclrModel, BuildChoosesStemAndHeadFromConfig) {
  config::ModelConfig c;
  c.width = 16;
  auto small = build_model(c, 3, 32);
  EXPECT_EQ(small->encoder->describe()["stem"], "cifar");
  auto large = build_model(c, 3, 96);
  EXPECT_EQ(large->encoder->describe()["stem"], "imagenet");
  c.stem = "imagenet";
  EXPECT_EQ(build_model(c, 3, 32)->encoder->describe()["stem"], "imagenet");

  auto views = small->forward(torch::rand({4, 3, 32, 32}));
  EXPECT_EQ(views.h.sizes().vec(), (std::vector<int64_t>{4, 128}));
  EXPECT_EQ(views.z.sizes().vec(), (std::vector<int64_t>{4, 128}));
  const auto names = small->named_parameters();
  EXPECT_TRUE(names.contains("head.mlp.0.weight"));   // Linear, no bias before BN
  EXPECT_FALSE(names.contains("head.mlp.0.bias"));
  EXPECT_TRUE(names.contains("head.mlp.1.weight"));   // BN
  EXPECT_TRUE(names.contains("head.mlp.3.bias"));     // output Linear
  EXPECT_TRUE(names.contains("encoder.layer4.1.conv2.weight"));
}

TEST(ProjectionHead, DepthAndDimensions) {
  ProjectionHead linear(ProjectionHeadOptions(64).layers(1).out_dim(10));
  EXPECT_EQ(linear->named_parameters().size(), 2u);
  ProjectionHead v2(ProjectionHeadOptions(64).layers(3).hidden_dim(32).out_dim(16));
  EXPECT_EQ(v2->forward(torch::rand({5, 64})).sizes().vec(), (std::vector<int64_t>{5, 16}));
  EXPECT_EQ(v2->named_parameters()["mlp.3.weight"].sizes().vec(), (std::vector<int64_t>{32, 32}));
}

TEST(SimclrModel, ChannelsLastKeepsOutputsAndParameterIdentity) {
  config::ModelConfig c;
  c.width = 8;
  torch::manual_seed(0);
  auto model = build_model(c, 3, 32);
  model->eval();
  const auto x = torch::rand({2, 3, 32, 32});
  const auto before = model->forward(x).z;
  auto* weight = model->named_parameters()["encoder.conv1.weight"].unsafeGetTensorImpl();
  to_channels_last(*model);
  EXPECT_EQ(model->named_parameters()["encoder.conv1.weight"].unsafeGetTensorImpl(), weight);
  EXPECT_TRUE(model->named_parameters()["encoder.conv1.weight"].is_contiguous(at::MemoryFormat::ChannelsLast));
  const auto after = model->forward(x.contiguous(at::MemoryFormat::ChannelsLast)).z;
  EXPECT_TRUE(torch::allclose(before, after, 1e-4, 1e-5));
}

}  // namespace
}  // namespace simclr::models

namespace simclr::models {
namespace {

TEST(VisionTransformer, BuiltByNameWithTheAutoPatchAndCheckedOptions) {
  config::ModelConfig c;
  c.arch = "vit_tiny";
  auto small = build_model(c, 1, 28);
  EXPECT_EQ(small->encoder->feature_dim(), 192);
  EXPECT_EQ(small->encoder->describe()["patch_size"], 4);  // auto for <= 64 px
  EXPECT_EQ(small->forward(torch::rand({2, 1, 28, 28})).h.sizes(), (std::vector<int64_t>{2, 192}));
  EXPECT_EQ(build_model(c, 3, 224)->encoder->describe()["patch_size"], 16);
  c.arch = "vit_small";
  EXPECT_EQ(build_model(c, 3, 32)->encoder->feature_dim(), 384);
  c.patch_size = 5;
  EXPECT_NE(testing::error_of([&] { build_model(c, 3, 32); }).find("model.patch_size"), std::string::npos);
  c.patch_size = 0;
  c.width = 32;
  EXPECT_NE(testing::error_of([&] { build_model(c, 3, 32); }).find("model.width"), std::string::npos);
  c.arch = "vit_huge";
  EXPECT_NE(testing::error_of([&] { build_model(c, 3, 32); }).find("known: resnet18, resnet34, resnet50, vit_tiny"),
            std::string::npos);
}

TEST(VisionTransformer, FlopsCountPatchEmbeddingAttentionAndMlp) {
  VisionTransformer vit(VisionTransformerOptions(8, 4).in_channels(1).layers(1).heads(1).hidden_dim(2).mlp_dim(3));
  // 4 patches + the class token = 5 tokens of width 2.
  const int64_t patch = 2 * 4 * 2 * 1 * 16, qkv = 2 * 5 * 2 * 6, attention = 2 * 2 * 5 * 5 * 2, out = 2 * 5 * 2 * 2,
                mlp = 2 * 2 * 5 * 2 * 3;
  EXPECT_EQ(vit->forward_flops(8), patch + qkv + attention + out + mlp);
}

}  // namespace
}  // namespace simclr::models

#include "workloads/model.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace uvmsim {
namespace {

// Parameter totals of torchvision's models (sum of p.numel() over model.parameters()).
TEST(Model, BuiltInModelsHaveTorchvisionsParameterCounts) {
  const std::pair<const char*, uint64_t> expected[] = {{"alexnet", 61100840},
                                                       {"vgg16", 138357544},
                                                       {"resnet18", 11689512},
                                                       {"resnet50", 25557032},
                                                       {"mobilenet_v2", 3504872}};
  EXPECT_EQ(builtin_models().size(), 5u);
  for (const auto& [name, params] : expected) {
    Model m = load_model(name);
    EXPECT_EQ(m.name, name);
    EXPECT_EQ(m.parameters(), params) << name;
    EXPECT_EQ(m.layers.back().op, LayerOp::kSoftmax) << name;
    EXPECT_EQ(m.layers.back().out, (Shape{1000, 1, 1})) << name;
  }
}

// The one-layer specs the H200 corpus's layer traces ran (workloads/models/layers/, loaded by path): each
// is one layer of the kind its name says, with torchvision's parameter count for it.
TEST(Model, TheLayerSpecsAreOneLayerEach) {
  const std::string dir = testing::source_dir() + "/workloads/models/layers/";
  const Model conv = load_model(dir + "conv3x3.json");
  ASSERT_EQ(conv.layers.size(), 1u);
  EXPECT_EQ(conv.layers[0].op, LayerOp::kConv);
  EXPECT_EQ(conv.parameters(), 64u * 64 * 3 * 3);
  const Model dw = load_model(dir + "dwconv3x3.json");
  ASSERT_EQ(dw.layers.size(), 1u);
  EXPECT_TRUE(dw.layers[0].depthwise());
  EXPECT_EQ(dw.parameters(), 144u * 3 * 3);
  const Model fc = load_model(dir + "linear4096.json");
  ASSERT_EQ(fc.layers.size(), 1u);
  EXPECT_EQ(fc.layers[0].op, LayerOp::kLinear);
  EXPECT_EQ(fc.parameters(), 4096u * 4096 + 4096);
  const Model relu = load_model(dir + "relu.json");
  ASSERT_EQ(relu.layers.size(), 1u);
  EXPECT_EQ(relu.layers[0].op, LayerOp::kRelu);
  EXPECT_EQ(relu.layers[0].out, (Shape{128, 112, 112}));
}

TEST(Model, ShapesFollowTheLayers) {
  Model r = load_model("resnet50");
  auto find = [&](const std::string& n) -> const Layer& {
    for (const Layer& l : r.layers)
      if (l.name == n) return l;
    ADD_FAILURE() << n;
    return r.layers[0];
  };
  EXPECT_EQ(find("conv1").out, (Shape{64, 112, 112}));
  EXPECT_EQ(find("maxpool").out, (Shape{64, 56, 56}));
  EXPECT_EQ(find("layer1.0.add").out, (Shape{256, 56, 56}));
  EXPECT_EQ(find("layer2.0.conv2").out, (Shape{128, 28, 28}));  // the stride on the 3x3 convolution
  EXPECT_EQ(find("layer4.2.add").out, (Shape{2048, 7, 7}));
  EXPECT_EQ(find("fc").in, (Shape{2048, 1, 1}));
  Model mb = load_model("mobilenet_v2");
  size_t depthwise = 0;
  for (const Layer& l : mb.layers) depthwise += l.depthwise();
  EXPECT_EQ(depthwise, 17u);
  // Batch-norm buffers (running mean and variance) are not parameters.
  EXPECT_GT(load_model("resnet18").buffers(), 0u);
  EXPECT_EQ(load_model("vgg16").buffers(), 0u);
  Model a = load_model("alexnet");
  EXPECT_EQ(a.layers[0].out, (Shape{64, 55, 55}));
}

std::string error_of(const std::string& json) {
  try {
    parse_model(json, "m.json");
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(Model, BadSpecsNameTheFileLayerAndKey) {
  const std::string head = R"({"name": "x", "input": [3, 8, 8], "layers": [)";
  EXPECT_NE(error_of(head + R"({"name": "c", "op": "conv", "out": 4, "kernel": 3, "strid": 1}]})")
                .find("m.json: layer 'c': unknown key 'strid'"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"name": "c", "op": "pool"}]})").find("unknown op 'pool'"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"name": "c", "op": "conv", "out": 4, "kernel": 9}]})").find("window larger"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"name": "a", "op": "relu"}, {"name": "b", "op": "linear", "out": 3},
                               {"name": "s", "op": "add", "in": ["a", "b"]}]})")
                .find("different shapes"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"name": "a", "op": "relu", "in": "z"}]})").find("'z' is not an earlier layer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"name": "x", "input": [3, 8, 8], "layers": [], "extra": 1})").find("unknown key 'extra'"),
            std::string::npos);
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_THROW(load_model("resnet101"), ModelError);
}

}  // namespace
}  // namespace uvmsim

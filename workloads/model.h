// Model specs (workloads/models/*.json, written by make_specs.py): a network as a list of layers with
// their shapes, fp32. The loader infers every layer's input and output shape and parameter count and
// rejects what does not fit (an unknown op or key, a shape that does not match, a name used twice),
// naming the file and the layer. The five models of the study are built in; a path loads any other.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace uvmsim {

class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Channels x height x width of one sample (the batch is not part of a spec).
struct Shape {
  uint32_t c = 0, h = 0, w = 0;
  uint64_t elems() const { return uint64_t(c) * h * w; }
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
};

enum class LayerOp : uint8_t { kConv, kBatchNorm, kRelu, kRelu6, kMaxPool, kAvgPool, kLinear, kAdd, kSoftmax };
const char* to_string(LayerOp op);

struct Layer {
  std::string name;
  LayerOp op = LayerOp::kRelu;
  std::vector<uint32_t> inputs;  // indices of earlier layers; kModelInput for the model's input
  Shape in, out;                 // per sample; `in` is the first input's
  // conv: kernel x kernel window, stride, padding, groups (depthwise: groups = in.c = out.c); pools:
  // kernel, stride, padding (maxpool) or the output size (avgpool, adaptive); linear: out.c features.
  uint32_t kernel = 0, stride = 1, padding = 0, groups = 1;
  bool bias = false;
  bool depthwise() const { return op == LayerOp::kConv && groups > 1 && groups == in.c && groups == out.c; }
  // Parameters (trainable, as torchvision counts them: conv and linear weights and biases, batch-norm
  // scale and shift) and buffers (batch-norm running mean and variance, fp32 here).
  uint64_t parameters() const;
  uint64_t buffers() const;
};
constexpr uint32_t kModelInput = UINT32_MAX;

struct Model {
  std::string name;
  Shape input;
  std::vector<Layer> layers;
  uint64_t parameters() const;
  uint64_t buffers() const;
};

// The built-in model names: alexnet, vgg16, resnet18, resnet50, mobilenet_v2.
std::vector<std::string> builtin_models();
// A built-in model by name, or a spec file by path (anything ending in .json).
Model load_model(const std::string& name_or_path);
// "resnet50:8,vgg16:1" -> (model name or spec path, batch) pairs; the batch defaults to 1. Throws ModelError
// naming the bad item.
std::vector<std::pair<std::string, uint32_t>> parse_model_list(const std::string& text);
// Parses a spec; `source` names it in errors.
Model parse_model(const std::string& json_text, const std::string& source);

}  // namespace uvmsim

#include "workloads/model.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "traces/files.h"
#include "workloads/models_embedded.h"

namespace uvmsim {

const char* to_string(LayerOp op) {
  switch (op) {
    case LayerOp::kConv: return "conv";
    case LayerOp::kBatchNorm: return "batchnorm";
    case LayerOp::kRelu: return "relu";
    case LayerOp::kRelu6: return "relu6";
    case LayerOp::kMaxPool: return "maxpool";
    case LayerOp::kAvgPool: return "avgpool";
    case LayerOp::kLinear: return "linear";
    case LayerOp::kAdd: return "add";
    case LayerOp::kSoftmax: return "softmax";
  }
  return "?";
}

uint64_t Layer::parameters() const {
  switch (op) {
    case LayerOp::kConv:
      return uint64_t(out.c) * (in.c / groups) * kernel * kernel + (bias ? out.c : 0);
    case LayerOp::kLinear:
      return in.elems() * out.c + (bias ? out.c : 0);
    case LayerOp::kBatchNorm:
      return 2 * uint64_t(in.c);
    default:
      return 0;
  }
}

uint64_t Layer::buffers() const { return op == LayerOp::kBatchNorm ? 2 * uint64_t(in.c) : 0; }

uint64_t Model::parameters() const {
  uint64_t n = 0;
  for (const Layer& l : layers) n += l.parameters();
  return n;
}

uint64_t Model::buffers() const {
  uint64_t n = 0;
  for (const Layer& l : layers) n += l.buffers();
  return n;
}

std::vector<std::string> builtin_models() {
  std::vector<std::string> v;
  for (const auto& m : embedded_models()) v.push_back(m.name);
  return v;
}

namespace {

const std::map<std::string, LayerOp> kOps = {
    {"conv", LayerOp::kConv},       {"batchnorm", LayerOp::kBatchNorm}, {"relu", LayerOp::kRelu},
    {"relu6", LayerOp::kRelu6},     {"maxpool", LayerOp::kMaxPool},     {"avgpool", LayerOp::kAvgPool},
    {"linear", LayerOp::kLinear},   {"add", LayerOp::kAdd},             {"softmax", LayerOp::kSoftmax}};

// Keys each op takes besides name, op and in.
const std::map<LayerOp, std::set<std::string>> kKeys = {
    {LayerOp::kConv, {"out", "kernel", "stride", "padding", "groups", "bias"}},
    {LayerOp::kMaxPool, {"kernel", "stride", "padding"}},
    {LayerOp::kAvgPool, {"out"}},
    {LayerOp::kLinear, {"out", "bias"}},
};

}  // namespace

Model parse_model(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(source + ": not valid JSON: " + e.what());
  }
  Model m;
  std::string where = source;
  auto fail = [&](const std::string& what) { throw ModelError(where + ": " + what); };
  try {
    for (auto& [k, v] : j.items())
      if (k != "name" && k != "input" && k != "dtype" && k != "layers") fail("unknown key '" + k + "'");
    m.name = j.at("name").get<std::string>();
    if (j.value("dtype", std::string("fp32")) != "fp32") fail("only fp32 models are supported");
    auto in = j.at("input").get<std::vector<uint32_t>>();
    if (in.size() != 3 || !in[0] || !in[1] || !in[2]) fail("'input' must be [channels, height, width], all positive");
    m.input = {in[0], in[1], in[2]};
    std::map<std::string, uint32_t> index;
    for (const auto& jl : j.at("layers")) {
      Layer l;
      l.name = jl.at("name").get<std::string>();
      where = source + ": layer '" + l.name + "'";
      auto op = kOps.find(jl.at("op").get<std::string>());
      if (op == kOps.end()) fail("unknown op '" + jl.at("op").get<std::string>() + "'");
      l.op = op->second;
      auto keys = kKeys.find(l.op);
      for (auto& [k, v] : jl.items())
        if (k != "name" && k != "op" && k != "in" && (keys == kKeys.end() || !keys->second.count(k)))
          fail("unknown key '" + k + "' for op " + to_string(l.op));
      if (index.count(l.name) || l.name == "input") fail("name used twice");
      // Inputs: named, or the previous layer.
      std::vector<std::string> srcs;
      if (!jl.contains("in"))
        srcs.push_back(m.layers.empty() ? "input" : m.layers.back().name);
      else if (jl["in"].is_array())
        srcs = jl["in"].get<std::vector<std::string>>();
      else
        srcs.push_back(jl["in"].get<std::string>());
      if (srcs.size() != (l.op == LayerOp::kAdd ? 2u : 1u))
        fail(std::string(to_string(l.op)) + " takes " + (l.op == LayerOp::kAdd ? "two inputs" : "one input"));
      std::vector<Shape> shapes;
      for (const auto& s : srcs) {
        if (s == "input") {
          l.inputs.push_back(kModelInput);
          shapes.push_back(m.input);
          continue;
        }
        auto it = index.find(s);
        if (it == index.end()) fail("input '" + s + "' is not an earlier layer");
        l.inputs.push_back(it->second);
        shapes.push_back(m.layers[it->second].out);
      }
      l.in = shapes[0];
      auto pos = [&](const char* k, uint32_t dflt) {
        uint32_t v = jl.value(k, dflt);
        if (v == 0) fail(std::string("'") + k + "' must be positive");
        return v;
      };
      auto window = [&](uint32_t size) -> uint32_t {
        const int64_t o = (int64_t(size) + 2 * l.padding - l.kernel) / l.stride + 1;
        if (int64_t(size) + 2 * l.padding < l.kernel || o <= 0) fail("window larger than its padded input");
        return uint32_t(o);
      };
      switch (l.op) {
        case LayerOp::kConv:
          l.kernel = pos("kernel", 0);
          l.stride = pos("stride", 1);
          l.padding = jl.value("padding", 0u);
          l.groups = pos("groups", 1);
          l.bias = jl.value("bias", false);
          l.out.c = pos("out", 0);
          if (l.in.c % l.groups || l.out.c % l.groups) fail("groups must divide the input and output channels");
          l.out.h = window(l.in.h);
          l.out.w = window(l.in.w);
          break;
        case LayerOp::kMaxPool:
          l.kernel = pos("kernel", 0);
          l.stride = pos("stride", l.kernel);
          l.padding = jl.value("padding", 0u);
          if (2 * l.padding > l.kernel) fail("padding larger than half the window");
          l.out = {l.in.c, window(l.in.h), window(l.in.w)};
          break;
        case LayerOp::kAvgPool: {
          const uint32_t o = pos("out", 0);
          l.out = {l.in.c, o, o};
          break;
        }
        case LayerOp::kLinear:
          l.bias = jl.value("bias", true);
          l.out = {pos("out", 0), 1, 1};
          break;
        case LayerOp::kAdd:
          if (!(shapes[0] == shapes[1])) fail("adds tensors of different shapes");
          l.out = l.in;
          break;
        default:
          l.out = l.in;
      }
      index[l.name] = uint32_t(m.layers.size());
      m.layers.push_back(std::move(l));
    }
    where = source;
    if (m.layers.empty()) fail("no layers");
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("bad spec: ") + e.what());
  }
  return m;
}

Model load_model(const std::string& name) {
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
    std::vector<uint8_t> text;
    try {
      text = files::read_regular_file(name, 64 << 20);
    } catch (const files::FileError& e) {
      throw ModelError(std::string("model spec ") + e.what());
    }
    return parse_model(std::string(text.begin(), text.end()), name);
  }
  for (const auto& m : embedded_models())
    if (m.name == name) return parse_model(m.json, "workloads/models/" + name + ".json");
  std::string known;
  for (const auto& n : builtin_models()) known += (known.empty() ? "" : ", ") + n;
  throw ModelError("unknown model '" + name + "' (built in: " + known + "; or a path to a .json spec)");
}

std::vector<std::pair<std::string, uint32_t>> parse_model_list(const std::string& text) {
  std::vector<std::pair<std::string, uint32_t>> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(at, comma - at);
    const size_t colon = item.rfind(':');
    uint32_t batch = 1;
    std::string name = item;
    if (colon != std::string::npos) {
      name = item.substr(0, colon);
      const std::string b = item.substr(colon + 1);
      if (b.empty() || b.find_first_not_of("0123456789") != std::string::npos || b.size() > 6 || std::stoul(b) == 0)
        throw ModelError("--models item '" + item + "': the batch must be a positive integer");
      batch = uint32_t(std::stoul(b));
    }
    if (name.empty()) throw ModelError("--models item '" + item + "' names no model");
    out.emplace_back(name, batch);
    at = comma + 1;
  }
  return out;
}

}  // namespace uvmsim

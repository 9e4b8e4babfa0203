// The model specs of workloads/models/, compiled in (CMake generates models_embedded.cpp from them).
#pragma once

#include <vector>

namespace uvmsim {

struct EmbeddedModel {
  const char* name;
  const char* json;
};
const std::vector<EmbeddedModel>& embedded_models();

}  // namespace uvmsim

// sim/configs/h100.json and h200.json compiled in (cmake/embed_configs.cmake): `uvmsim validate` without
// --config simulates a trace under the config of the GPU it was recorded on.
#pragma once

#include <string>
#include <vector>

namespace uvmsim {

struct EmbeddedConfig {
  const char* name;  // h100, h200
  const char* json;
};
const std::vector<EmbeddedConfig>& embedded_configs();

}  // namespace uvmsim

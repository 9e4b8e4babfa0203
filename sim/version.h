#pragma once

namespace uvmsim {
constexpr const char* kVersion = "0.1.0";
}  // namespace uvmsim

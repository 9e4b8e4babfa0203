#include "sim/engine/progress.h"

#include <unistd.h>

namespace uvmsim {

ProgressReporter::ProgressReporter(std::FILE* stream, bool force)
    : stream_(stream),
      active_(force || ::isatty(::fileno(stream)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::update(const std::string& line) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::seconds(1)) return;
  last_ = now;
  const double s = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stream_, "\r\033[K[%.0f s] %s", s, line.c_str());
  std::fflush(stream_);
  shown_ = true;
}

void ProgressReporter::finish() {
  if (!shown_) return;
  std::fprintf(stream_, "\r\033[K");
  std::fflush(stream_);
  shown_ = false;
}

}  // namespace uvmsim

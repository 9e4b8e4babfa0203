// Progress of a long run, shown on a terminal only: one line rewritten in place about once a second, so that
// a user sees a long simulation moving and its output files stay the same whether or not it was watched.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace uvmsim {

class ProgressReporter {
 public:
  // Shows nothing unless `stream` is a terminal (or `force`).
  explicit ProgressReporter(std::FILE* stream = stderr, bool force = false);
  ~ProgressReporter();
  bool active() const { return active_; }
  // Rewrites the line if a second has passed since the last one (cheap to call often).
  void update(const std::string& line);
  // Clears the line (a run's own output follows on a clean line).
  void finish();

 private:
  std::FILE* stream_;
  bool active_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace uvmsim

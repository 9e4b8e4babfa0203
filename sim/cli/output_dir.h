// A folder of results (`uvmsim run --out DIR`, `trace export --csv DIR`). uvmsim keeps a manifest in it
// (`uvmsim-manifest.json`: the files it wrote, the command, and whether that run completed) and so:
// - refuses, before any work, a path that is not a folder, or a folder holding anything it did not write
//   (foreign files are never moved or deleted);
// - when a run begins, moves the previous run's results aside into `DIR/previous/` and marks the folder
//   "running": a run that is killed leaves no result that looks like its own, and the previous results are
//   still there;
// - stages each new file under a temporary name, renames them into place when the run completes, marks
//   the folder "complete" and only then deletes `previous/`; a run that fails with an error restores the
//   previous results.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "traces/files.h"

namespace uvmsim {

class OutputDir {
 public:
  static constexpr const char* kManifest = "uvmsim-manifest.json";
  static constexpr const char* kPrevious = "previous";

  // Checks `dir` (files::FileError naming what is wrong); creates nothing. `what` names the option.
  OutputDir(std::string dir, std::string what, std::string command);
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  // Whether `file` (a path) names a file directly inside this folder; then it belongs in it.
  bool holds(const std::string& file) const;
  // Creates the folder, moves the previous results aside and marks the folder "running".
  void begin();
  // A result file, staged until commit(); `name` is a plain file name.
  std::ostream& file(const std::string& name);
  void write(const std::string& name, const std::string& content);
  // Renames every staged file into place, marks the folder "complete", removes the previous results.
  void commit();

 private:
  void write_manifest(const std::string& state, const std::vector<std::string>& files,
                      const std::vector<std::string>& previous) const;
  void restore();

  std::string dir_, what_, command_;
  std::vector<std::string> previous_;  // the previous run's files (names), moved aside by begin()
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<files::AtomicFile>> staged_;
  bool begun_ = false, committed_ = false;
};

}  // namespace uvmsim

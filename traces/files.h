// Files as every uvmsim tool reads and writes them. Inputs must be regular files and are read within a
// size bound; outputs replace only a regular file (or create a missing one), never a directory, device,
// FIFO, socket or symbolic link, and are written under a temporary name and renamed into place, so a
// partial file never carries the final name. Every error names the path and the reason.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace uvmsim::files {

class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws FileError unless `path` is missing or a regular file (not a link) in an existing directory.
// `what` names the option in the message ("--batch-log").
void check_output_file(const std::string& path, const std::string& what);

// Reads a regular file whole (a link to one is followed); FileError if it is anything else, larger than
// `max_bytes`, or unreadable.
std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes = uint64_t{1} << 40);

// A file written under a temporary name beside `path` (`.NAME.uvmsim-tmp.PID`) and renamed onto it by
// commit(); destroyed uncommitted, the temporary is removed. The target is checked when it is created and
// again just before the rename.
class AtomicFile {
 public:
  AtomicFile(std::string path, std::string what);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  std::ostream& stream() { return out_; }
  void commit();
  // Whether a file name is an AtomicFile's temporary (one a killed run may leave behind).
  static bool is_temporary(const std::string& name);

 private:
  std::string path_, what_, tmp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Writes `content` to `path` through an AtomicFile.
void write_file_atomic(const std::string& path, const std::string& content,
                       const std::string& what = "output");

}  // namespace uvmsim::files

#include "sim/cli/output_dir.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sim/version.h"

namespace uvmsim {
namespace {

namespace fs = std::filesystem;
using files::FileError;

struct Manifest {
  bool present = false;
  std::string state;
  std::vector<std::string> files, previous;
};

Manifest read_manifest(const std::string& dir, const std::string& what) {
  Manifest m;
  const std::string path = dir + "/" + OutputDir::kManifest;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return m;
  const std::string bad = what + " " + dir + ": " + OutputDir::kManifest + " is not uvmsim's manifest";
  if (!S_ISREG(st.st_mode)) throw FileError(bad);
  const std::vector<uint8_t> bytes = files::read_regular_file(path, 16 << 20);
  try {
    const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end());
    m.state = j.at("state").get<std::string>();
    m.files = j.at("files").get<std::vector<std::string>>();
    m.previous = j.at("previous").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw FileError(bad);
  }
  auto plain = [](const std::string& n) {
    return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos;
  };
  if (!std::all_of(m.files.begin(), m.files.end(), plain) ||
      !std::all_of(m.previous.begin(), m.previous.end(), plain))
    throw FileError(bad);
  m.present = true;
  return m;
}

bool listed(const std::vector<std::string>& v, const std::string& n) {
  return std::find(v.begin(), v.end(), n) != v.end();
}

// Throws naming the first entry of `dir` (sorted, so the message is stable) that `ok` refuses.
template <typename Ok>
void check_entries(const std::string& dir, const std::string& what, Ok ok) {
  std::vector<std::string> foreign;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (!ok(n, e)) foreign.push_back(n);
  }
  if (ec) throw FileError(what + " " + dir + ": cannot list: " + ec.message());
  if (foreign.empty()) return;
  std::sort(foreign.begin(), foreign.end());
  throw FileError(what + " " + dir + ": holds " + std::to_string(foreign.size()) +
                  " file(s) uvmsim did not write (" + dir + "/" + foreign.front() +
                  (foreign.size() > 1 ? ", ..." : "") +
                  "); uvmsim never replaces or deletes them: choose another folder or remove them");
}

void move(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw FileError("cannot move " + from + " to " + to + ": " + std::strerror(errno));
}

}  // namespace

OutputDir::OutputDir(std::string dir, std::string what, std::string command)
    : dir_(std::move(dir)), what_(std::move(what)), command_(std::move(command)) {
  if (dir_.empty()) throw FileError(what_ + ": empty path");
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) {
    if (errno != ENOENT) throw FileError(what_ + " " + dir_ + ": " + std::strerror(errno));
    // Missing: it will be created; its nearest existing ancestor must be a writable folder.
    fs::path p = fs::absolute(dir_).parent_path();
    while (::stat(p.c_str(), &st) != 0 && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
    if (!S_ISDIR(st.st_mode)) throw FileError(what_ + " " + dir_ + ": " + p.string() + " is not a folder");
    if (::access(p.c_str(), W_OK) != 0)
      throw FileError(what_ + " " + dir_ + ": cannot create it in " + p.string() + ": " +
                      std::strerror(errno));
    return;
  }
  if (!S_ISDIR(st.st_mode))
    throw FileError(what_ + " " + dir_ + ": exists and is not a folder (results go into a folder)");
  if (::access(dir_.c_str(), W_OK) != 0) throw FileError(what_ + " " + dir_ + ": " + std::strerror(errno));
  const Manifest m = read_manifest(dir_, what_);
  check_entries(dir_, what_, [&](const std::string& n, const fs::directory_entry& e) {
    if (n == kManifest || files::AtomicFile::is_temporary(n)) return true;
    if (n == kPrevious && e.is_directory() && !e.is_symlink()) return true;
    return listed(m.files, n) && e.is_regular_file() && !e.is_symlink();
  });
  const std::string prev = dir_ + "/" + kPrevious;
  if (fs::is_directory(prev))
    check_entries(prev, what_, [&](const std::string& n, const fs::directory_entry& e) {
      return (listed(m.previous, n) || listed(m.files, n)) && e.is_regular_file() && !e.is_symlink();
    });
}

bool OutputDir::holds(const std::string& file) const {
  std::error_code ec;
  const fs::path parent = fs::weakly_canonical(fs::absolute(file).parent_path(), ec);
  return !ec && parent == fs::weakly_canonical(fs::absolute(dir_), ec);
}

void OutputDir::write_manifest(const std::string& state, const std::vector<std::string>& files,
                               const std::vector<std::string>& previous) const {
  nlohmann::json j = {{"written_by", std::string("uvmsim ") + kVersion},
                      {"command", command_},
                      {"state", state},
                      {"files", files},
                      {"previous", previous}};
  files::write_file_atomic(dir_ + "/" + kManifest, j.dump(1) + "\n", what_);
}

void OutputDir::begin() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw FileError(what_ + " " + dir_ + ": cannot create: " + ec.message());
  const Manifest m = read_manifest(dir_, what_);
  for (const auto& e : fs::directory_iterator(dir_))  // temporaries of a killed run: uvmsim's own
    if (files::AtomicFile::is_temporary(e.path().filename().string())) fs::remove(e.path(), ec);
  const std::string prev = dir_ + "/" + kPrevious;
  if (m.present && m.state == "complete" && !m.files.empty()) {
    // The previous run completed: its results move aside until this one completes.
    for (const std::string& n : m.previous) fs::remove(prev + "/" + n, ec);
    fs::create_directories(prev, ec);
    if (ec) throw FileError(what_ + " " + dir_ + ": cannot create " + prev + ": " + ec.message());
    for (const std::string& n : m.files)
      if (fs::exists(dir_ + "/" + n)) {
        move(dir_ + "/" + n, prev + "/" + n);
        previous_.push_back(n);
      }
  } else if (m.present) {
    // A run was killed here: previous/ still holds the last complete results; its partial files go.
    for (const std::string& n : m.files) fs::remove(dir_ + "/" + n, ec);
    for (const std::string& n : m.previous)
      if (fs::exists(prev + "/" + n)) previous_.push_back(n);
  }
  write_manifest("running", {}, previous_);
  begun_ = true;
}

std::ostream& OutputDir::file(const std::string& name) {
  if (!begun_) begin();
  staged_.push_back(std::make_unique<files::AtomicFile>(dir_ + "/" + name, what_));
  names_.push_back(name);
  return staged_.back()->stream();
}

void OutputDir::write(const std::string& name, const std::string& content) { file(name) << content; }

void OutputDir::commit() {
  if (!begun_) begin();
  for (auto& f : staged_) f->commit();
  write_manifest("complete", names_, {});
  committed_ = true;
  std::error_code ec;
  const std::string prev = dir_ + "/" + kPrevious;
  for (const std::string& n : previous_) fs::remove(prev + "/" + n, ec);
  fs::remove(prev, ec);  // only if empty
}

void OutputDir::restore() {
  staged_.clear();  // removes the temporaries
  std::error_code ec;
  const std::string prev = dir_ + "/" + kPrevious;
  for (const std::string& n : previous_)
    if (::rename((prev + "/" + n).c_str(), (dir_ + "/" + n).c_str()) != 0) return;  // leave it as it is
  fs::remove(prev, ec);
  write_manifest(previous_.empty() ? "failed" : "complete", previous_, {});
}

OutputDir::~OutputDir() {
  if (!begun_ || committed_) return;
  try {
    restore();
  } catch (const std::exception&) {
    // The manifest still says "running": the next run into the folder sorts it out.
  }
}

}  // namespace uvmsim

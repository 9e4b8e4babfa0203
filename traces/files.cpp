#include "traces/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace uvmsim::files {
namespace {

constexpr const char* kTempTag = ".uvmsim-tmp.";  // temporaries are `.NAME.uvmsim-tmp.PID`

std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

std::string parent_of(const std::string& path) {
  std::string p = std::filesystem::path(path).parent_path().string();
  return p.empty() ? "." : p;
}

}  // namespace

void check_output_file(const std::string& path, const std::string& what) {
  if (path.empty()) throw FileError(what + ": empty path");
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      throw FileError(what + " " + path + ": is " + kind_of(st.st_mode) +
                      "; only a regular file (or a missing path) is ever replaced");
  } else if (errno != ENOENT) {
    throw FileError(what + " " + path + ": " + std::strerror(errno));
  }
  const std::string dir = parent_of(path);
  struct stat ds {};
  if (::stat(dir.c_str(), &ds) != 0)
    throw FileError(what + " " + path + ": folder " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(ds.st_mode)) throw FileError(what + " " + path + ": " + dir + " is not a folder");
  if (::access(dir.c_str(), W_OK) != 0)
    throw FileError(what + " " + path + ": folder " + dir + ": " + std::strerror(errno));
}

std::vector<uint8_t> read_regular_file(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw FileError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw FileError(path + ": " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(path + ": is " + kind_of(st.st_mode) + ", not a regular file");
  }
  if (uint64_t(st.st_size) > max_bytes) {
    ::close(fd);
    throw FileError(path + ": " + std::to_string(st.st_size) + " bytes, more than the " +
                    std::to_string(max_bytes) + " this reader accepts");
  }
  std::vector<uint8_t> data;
  try {
    data.resize(size_t(st.st_size));
  } catch (const std::bad_alloc&) {
    ::close(fd);
    throw FileError(path + ": out of memory reading " + std::to_string(st.st_size) + " bytes");
  }
  size_t got = 0;
  while (got < data.size()) {
    const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw FileError(path + ": read failed at byte " + std::to_string(got) + ": " + std::strerror(e));
    }
    if (n == 0) break;  // the file shrank while it was read
    got += size_t(n);
  }
  ::close(fd);
  data.resize(got);
  return data;
}

AtomicFile::AtomicFile(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
  check_output_file(path_, what_);
  const std::filesystem::path p(path_);
  std::string name = ".";  // appended, not operator+: GCC 12's -Wrestrict false positive
  name += p.filename().string();
  name += kTempTag;
  name += std::to_string(::getpid());
  tmp_ = (p.parent_path() / name).string();
  ::unlink(tmp_.c_str());  // a leftover of a killed run of this process id (the name is uvmsim's own)
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError(what_ + " " + path_ + ": cannot create " + tmp_ + ": " + std::strerror(errno));
  ::close(fd);
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  if (!out_) {
    ::unlink(tmp_.c_str());
    throw FileError(what_ + " " + path_ + ": cannot open " + tmp_ + " for writing");
  }
}

bool AtomicFile::is_temporary(const std::string& name) {
  return name.size() > 1 && name[0] == '.' && name.find(kTempTag) != std::string::npos;
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  out_.close();
  ::unlink(tmp_.c_str());
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = bool(out_);
  out_.close();
  if (!ok || out_.fail()) throw FileError(what_ + " " + path_ + ": write failed (disk full?)");
  check_output_file(path_, what_);  // it may have changed while the run went on
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw FileError(what_ + " " + path_ + ": cannot rename into place: " + std::strerror(errno));
  committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& content, const std::string& what) {
  AtomicFile f(path, what);
  f.stream() << content;
  f.commit();
}

}  // namespace uvmsim::files

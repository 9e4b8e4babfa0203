// Where a traced process writes its raw records: $UVMTRACE_OUT, or $UVMTRACE_OUT/proc_<label> when
// UVMTRACE_PROCESS=<label> is set, so that several processes recorded at once (multi-process tenants,
// cuda_tracer/record_torch.sh) each keep their own files. The converter reads proc_* folders as
// separate address spaces. Shared by the injection library and the access tool.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace uvmtrace {

inline std::string process_out_dir(const char* tool, const char* out) {
  const char* label = std::getenv("UVMTRACE_PROCESS");
  if (!label || !*label) return out;
  for (const char* c = label; *c; ++c)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '-')) {
      std::fprintf(stderr, "%s: UVMTRACE_PROCESS '%s' must be letters, digits, '_' or '-'\n", tool, label);
      _exit(2);
    }
  std::string dir = std::string(out) + "/proc_" + label;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "%s: cannot create %s\n", tool, dir.c_str());
    _exit(2);
  }
  return dir;
}

}  // namespace uvmtrace

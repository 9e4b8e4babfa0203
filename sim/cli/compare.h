// `uvmsim compare A B`: two runs' statistics side by side with their ratio, and the config keys in which the
// runs differ. A and B are `uvmsim run` or `uvmsim serve` output folders (their stats.json) or stats.json
// files themselves.
#pragma once

#include <ostream>
#include <string>

namespace uvmsim {

// Prints the comparison; throws files::FileError or std::runtime_error naming the file for a missing,
// unreadable or non-uvmsim input.
void compare_runs(const std::string& a, const std::string& b, std::ostream& out);

}  // namespace uvmsim

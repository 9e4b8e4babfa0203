// `uvmsim sweep --spec S.json --out DIR [--jobs N]`: many runs of one trace or serving spec over the cross
// product of axes (or listed points), on a local thread pool (sim/cli/README is the spec's reference: the
// header of sweep.cpp). Each point's stats.json lands in DIR/points/KEY/ (KEY: a hash of the point's
// resolved config, its serving spec or trace and the program version), written atomically, so a killed
// sweep run again with the same spec and folder skips the points it finished. DIR/results.csv (one row per
// point: status, key, axes, then metrics) and the same rows in DIR/results.db (SQLite, table `points`) are
// rewritten atomically from the finished points at most once a second and at the end (a resumed sweep
// rebuilds them from the points' files).
// A point that fails records its error in its folder and the row, and the sweep goes on.
#pragma once

#include <string>

namespace uvmsim {

struct SweepArgs {
  std::string spec, out;
  unsigned jobs = 1;
  bool quiet = false;  // no line per point (benchmarks)
};

// Returns the number of failed points (0: all ran); throws for a bad spec or output folder.
int run_sweep(const SweepArgs& a);

}  // namespace uvmsim

#include "sim/stats/timeline.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace uvmsim {
namespace {

// Chrome trace times are microseconds; three decimals keep the simulator's nanoseconds.
double us(int64_t ns) { return double(ns) / 1000.0; }

// Processes (tracks) of the trace.
enum Pid : int { kKernels = 1, kDriver = 2, kPcie = 3, kSms = 4, kRequests = 5 };

// Thread ids. Perfetto's JSON importer takes a tid as the system's (one thread per tid, whatever its pid)
// and reads tid 0 as the pid, so each track gets a tid no other process uses and never 0: track `local`
// (a tenant, an engine) of process `pid` is pid * kPidStride + local + 1, and its lane L (below) adds
// kLaneStride * L.
constexpr int64_t kPidStride = 100'000'000, kLaneStride = 1000;
int64_t tid_of(int pid, uint32_t local) {
  if (local + 1 >= kLaneStride)
    throw std::runtime_error("timeline: track " + std::to_string(local) + " of process " +
                             std::to_string(pid) + " is beyond the " + std::to_string(kLaneStride - 1) +
                             " a process may hold");
  return pid * kPidStride + local + 1;
}

nlohmann::json meta(int pid, int64_t tid, const char* what, const std::string& name) {
  nlohmann::json e = {{"ph", "M"}, {"pid", pid}, {"name", what}, {"args", {{"name", name}}}};
  if (tid >= 0) e["tid"] = tid;
  return e;
}

// The Perfetto UI's JSON importer takes the slices of one track only if they nest; slices that overlap
// without nesting (one tenant's queued requests, copies on two engines, kernels of two streams) would be
// dropped. Each track's slices go, in time order, to the first of its lanes where they overlap nothing:
// lane 0 keeps the track's tid, lane L is tid + kLaneStride L, named after the track ("name (L+1)").
void separate_overlaps(nlohmann::json& events) {
  std::map<std::pair<int, int64_t>, std::string> names;
  std::map<std::pair<int, int64_t>, std::vector<size_t>> tracks;
  for (size_t i = 0; i < events.size(); ++i) {
    const nlohmann::json& e = events[i];
    if (e["ph"] == "M" && e["name"] == "thread_name")
      names[{e["pid"].get<int>(), e["tid"].get<int64_t>()}] = e["args"]["name"];
    if (e["ph"] == "X") tracks[{e["pid"].get<int>(), e["tid"].get<int64_t>()}].push_back(i);
  }
  std::vector<nlohmann::json> lanes_named;
  for (auto& [track, idx] : tracks) {
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      return events[a]["ts"].get<double>() < events[b]["ts"].get<double>();
    });
    std::vector<double> lane_end;
    for (size_t i : idx) {
      const double ts = events[i]["ts"], end = ts + events[i]["dur"].get<double>();
      size_t lane = 0;
      while (lane < lane_end.size() && lane_end[lane] > ts + 1e-9) ++lane;
      if (lane == lane_end.size()) {
        if (int64_t(lane) >= kPidStride / kLaneStride - 1)
          throw std::runtime_error("timeline: more than " + std::to_string(lane) +
                                   " slices overlap on one track; bound it with --timeline-window");
        lane_end.push_back(end);
        if (lane > 0) {
          const auto n = names.find(track);
          lanes_named.push_back(meta(track.first, track.second + kLaneStride * int64_t(lane), "thread_name",
                                     (n == names.end() ? std::to_string(track.second) : n->second) + " (" +
                                         std::to_string(lane + 1) + ")"));
        }
      } else {
        lane_end[lane] = end;
      }
      if (lane > 0) events[i]["tid"] = track.second + kLaneStride * int64_t(lane);
    }
  }
  for (auto& m : lanes_named) events.push_back(std::move(m));
}

}  // namespace

void write_timeline(std::ostream& out, const Timeline& t, const std::vector<std::string>& kernel_names,
                    const std::vector<std::string>& tenant_names, const std::vector<TimelineRequest>& requests) {
  nlohmann::json events = nlohmann::json::array();
  events.push_back(meta(kKernels, -1, "process_name", "kernels (one track per tenant)"));
  events.push_back(meta(kDriver, -1, "process_name", "UVM driver"));
  events.push_back(meta(kDriver, tid_of(kDriver, 0), "thread_name", "fault batches (first fault to replay)"));
  events.push_back(meta(kDriver, tid_of(kDriver, 1), "thread_name", "evictions"));
  events.push_back(meta(kPcie, -1, "process_name", "PCIe"));
  events.push_back(meta(kPcie, tid_of(kPcie, 0), "thread_name", "HtoD copies"));
  events.push_back(meta(kPcie, tid_of(kPcie, 1), "thread_name", "DtoH copies"));
  events.push_back(meta(kSms, -1, "process_name", "SMs: CTAs stalled on faults"));
  events.push_back(meta(kRequests, -1, "process_name", "requests (arrival to completion)"));
  for (size_t i = 0; i < tenant_names.size(); ++i) {
    events.push_back(meta(kKernels, tid_of(kKernels, uint32_t(i)), "thread_name", tenant_names[i]));
    events.push_back(meta(kRequests, tid_of(kRequests, uint32_t(i)), "thread_name", tenant_names[i]));
  }
  const auto name_of = [&](uint32_t k) { return k < kernel_names.size() ? kernel_names[k] : std::to_string(k); };
  for (const Timeline::Kernel& k : t.kernels)
    events.push_back({{"ph", "X"},
                      {"pid", kKernels},
                      {"tid", tid_of(kKernels, k.tenant)},
                      {"name", name_of(k.kernel)},
                      {"ts", us(k.start_ns)},
                      {"dur", us(k.end_ns - k.start_ns)},
                      {"args", {{"kernel", k.kernel}}}});
  for (const BatchRecord& b : t.batches) {
    const int64_t end = b.replay_ns >= 0 ? b.replay_ns : b.first_arrival_ns;
    if (!t.overlaps(b.first_arrival_ns, end)) continue;
    events.push_back({{"ph", "X"},
                      {"pid", kDriver},
                      {"tid", tid_of(kDriver, 0)},
                      {"name", "batch of " + std::to_string(b.entries)},
                      {"ts", us(b.first_arrival_ns)},
                      {"dur", us(end - b.first_arrival_ns)},
                      {"args",
                       {{"entries", b.entries},
                        {"pages", b.pages},
                        {"va_blocks", b.blocks},
                        {"utlbs", b.utlbs},
                        {"kernel", b.kernel}}}});
  }
  for (const Timeline::Eviction& e : t.evictions)
    events.push_back({{"ph", "i"},
                      {"s", "t"},
                      {"pid", kDriver},
                      {"tid", tid_of(kDriver, 1)},
                      {"name", "evict"},
                      {"ts", us(e.at_ns)},
                      {"args", {{"va_block", e.block}, {"tenant", e.tenant}, {"pages", e.pages}}}});
  for (const Timeline::Copy& c : t.copies)
    events.push_back({{"ph", "X"},
                      {"pid", kPcie},
                      {"tid", tid_of(kPcie, c.dtoh)},
                      {"name", c.dtoh ? "DtoH" : "HtoD"},
                      {"ts", us(c.start_ns)},
                      {"dur", us(c.end_ns - c.start_ns)},
                      {"args", {{"bytes", c.bytes}}}});
  for (const Timeline::Stall& s : t.stalls)
    events.push_back({{"ph", "C"},
                      {"pid", kSms},
                      {"tid", tid_of(kSms, 0)},
                      {"name", "SM " + std::to_string(s.sm)},
                      {"ts", us(s.at_ns)},
                      {"args", {{"stalled", s.stalled}}}});
  for (const TimelineRequest& r : requests) {
    if (r.end_ns < 0 || !t.overlaps(r.arrival_ns, r.end_ns)) continue;
    events.push_back(
        {{"ph", "X"},
         {"pid", kRequests},
         {"tid", tid_of(kRequests, r.tenant)},
         {"name", "request " + std::to_string(r.id)},
         {"ts", us(r.arrival_ns)},
         {"dur", us(r.end_ns - r.arrival_ns)},
         {"args", {{"batch", r.batch}, {"queued_ms", double(r.start_ns - r.arrival_ns) / 1e6}}}});
  }
  separate_overlaps(events);
  nlohmann::json doc = {{"displayTimeUnit", "ns"}, {"traceEvents", std::move(events)}};
  if (t.window_begin_ns > 0 || t.window_end_ns != std::numeric_limits<int64_t>::max())
    doc["otherData"] = {{"window_begin_ms", double(t.window_begin_ns) / 1e6},
                        {"window_end_ms", t.window_end_ns == std::numeric_limits<int64_t>::max()
                                              ? -1.0
                                              : double(t.window_end_ns) / 1e6}};
  out << doc.dump() << "\n";
}

}  // namespace uvmsim

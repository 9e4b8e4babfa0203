#include "sim/cli/serve.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "sim/cli/run.h"
#include "sim/simulator.h"
#include "sim/uvm/uvm.h"
#include "traces/files.h"
#include "traces/trace_io.h"
#include "workloads/generate.h"

namespace uvmsim {

LatencySummary summarise(std::vector<int64_t> ns) {
  LatencySummary s;
  s.count = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (int64_t v : ns) sum += double(v);
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  const auto rank = [&](double p) {
    const size_t r = size_t(std::ceil(p / 100.0 * double(ns.size())));
    return double(ns[std::max<size_t>(r, 1) - 1]) / 1e6;
  };
  s.mean = sum / double(ns.size()) / 1e6;
  s.p50 = rank(50), s.p90 = rank(90), s.p95 = rank(95), s.p99 = rank(99);
  s.max = double(ns.back()) / 1e6;
  return s;
}

namespace {

// The recorded arrival times of one tenant of a trace's requests section.
std::vector<int64_t> trace_arrivals(const ArrivalSpec& a, size_t tenant) {
  const trace::Trace t = trace::read_trace(a.trace);
  std::vector<int64_t> times;
  for (const trace::Request& r : t.requests)
    if (r.tenant == a.trace_tenant) times.push_back(r.arrival_ns);
  if (times.empty())
    throw SpecError("tenants[" + std::to_string(tenant) + "].arrivals.trace: " + a.trace +
                    " holds no request of its tenant " + std::to_string(a.trace_tenant) +
                    " (its requests section has " + std::to_string(t.requests.size()) + " requests)");
  return times;
}

struct Run {
  Stats stats;
  std::vector<RequestRecord> requests;
  int64_t start_ns = 0;
};

Run simulate_serving(const Workload& w, const Config& c, const ServingPlan& plan, ProgressReporter* progress,
                     Timeline* timeline = nullptr) {
  Simulator sim(w, c, &plan);
  sim.set_progress(progress);
  if (timeline) sim.set_timeline(timeline);
  sim.run();
  return Run{sim.stats(), sim.server()->requests(), sim.server()->start_ns()};
}

// Whether a policy this run uses (the config's sm_allocation and batching, a tenant's own batching) has the
// flag (PolicyInfo::needs_profile, needs_layers).
bool needs(const ServeSpec& spec, const Config& c, bool PolicyInfo::*flag) {
  const auto needs = [flag](const char* kind, const std::string& name) {
    const KindInfo* k = PolicyCatalog::instance().find(kind);
    const PolicyInfo* p = k ? k->find(name) : nullptr;
    return p && p->*flag;
  };
  bool any = needs("sm_allocation", c.policy("sm_allocation")) || needs("batching", c.policy("batching"));
  for (const ServeTenantSpec& t : spec.tenants) any |= !t.batching.empty() && needs("batching", t.batching);
  return any;
}

// D-STACK's profiling, in the simulator: each tenant alone (the others idle) on a partition of each share
// (1/8, 1/4, 3/8, 1/2, 3/4 and all of the GPU's SMs), at each of its batch sizes, a closed loop of one batch
// at a time: the first batch faults its memory in, the second is measured, from its launch to its end.
// Memory is the GPU's whole (not oversubscribed); the config's policies but for sm_allocation (shared, within
// the partition) and batching (a fixed batch of that size). Same workload, so kernels are those served.
ServingProfile profile_tenants(const Workload& w, const Config& c, const ServingPlan& plan) {
  ServingProfile p;
  const uint32_t sms = uint32_t(c.gpu.sm_count);
  p.sm_count = sms;
  std::vector<uint32_t> shares;
  for (uint32_t eighths : {1u, 2u, 3u, 4u, 6u, 8u}) {
    const uint32_t s = std::max<uint32_t>(1, sms * eighths / 8);
    if (shares.empty() || s > shares.back()) shares.push_back(s);
  }
  Config alone = c;
  alone.gpu.memory_fraction = 0;
  alone.select("sm_allocation", "shared");
  for (size_t i = 0; i < plan.spec.tenants.size(); ++i) {
    const ServeTenantSpec& ts = plan.spec.tenants[i];
    TenantProfile& t = p.tenants.emplace_back();
    t.sms = shares;
    t.batch_sizes = ts.batch_sizes;
    t.slo_ns = int64_t(std::llround(ts.slo_ms * 1e6));
    for (size_t bi = 0; bi < ts.batch_sizes.size(); ++bi) {
      const uint32_t b = ts.batch_sizes[bi];
      std::vector<int64_t>& row = t.latency_ns.emplace_back();
      std::vector<std::vector<int64_t>>& layers = t.layer_latency_ns.emplace_back();
      for (uint32_t share : shares) {
        ServingPlan q = plan;
        q.profile = {};
        q.spec.requests = b;
        q.spec.warmup_requests = b;
        q.spec.duration_ns = q.spec.warmup_ns = 0;
        q.spec.slowdown = false;
        for (ServeTenantSpec& o : q.spec.tenants) {
          o.sms = 0;
          o.batching = "fixed";  // the others are idle; none reads a profile
          o.batching_params = {{"batch_size", double(o.batch_sizes.front())}, {"timeout_ns", 1e15}};
        }
        ServeTenantSpec& x = q.spec.tenants[i];
        x.sms = share == sms ? 0 : share;
        x.arrivals = ArrivalSpec{};
        x.arrivals.kind = ArrivalKind::kClosed;
        x.arrivals.in_flight = b;
        x.batching_params = {{"batch_size", double(b)}, {"timeout_ns", 1e15}};
        q.active.assign(q.spec.tenants.size(), false);
        q.active[i] = true;
        Simulator sim(w, alone, &q);
        sim.run();
        int64_t first = INT64_MAX, last = 0;
        for (const RequestRecord& r : sim.server()->requests())
          if (r.counted) first = std::min(first, r.start_ns), last = std::max(last, r.end_ns);
        row.push_back(last > first ? last - first : 0);
        std::vector<int64_t>& per_layer = layers.emplace_back();
        for (uint32_t k : plan.kernels[i][bi])
          per_layer.push_back(sim.stats().kernels[k].end_ns - sim.stats().kernels[k].start_ns);
      }
    }
  }
  return p;
}

// Each tenant's layers, for policies that needs_layers: per batch size and layer position, the kernel's
// resident time and its pages in the tenant's weights and elsewhere, and which sub-batch sizes it has; and
// the GPU's memory in pages, as the uvm component sizes it.
void add_layers(const Workload& w, const Config& c, const ServingPlan& plan, ServingProfile& p) {
  p.sm_count = uint32_t(c.gpu.sm_count);
  p.capacity_pages = uint64_t{capacity_chunks(c, w)} * kPagesPerBlock;
  // Dense page ranges of the weights.
  std::vector<std::pair<uint32_t, uint32_t>> weights;
  for (size_t a = 0; a < w.trace.allocations.size(); ++a)
    if (w.trace.allocations[a].role == trace::AllocRole::kWeight)
      weights.push_back({w.alloc_first[a],
                         w.alloc_first[a] + uint32_t((w.trace.allocations[a].bytes + trace::kPageBytes - 1) /
                                                     trace::kPageBytes)});
  p.tenants.resize(plan.spec.tenants.size());
  for (size_t t = 0; t < plan.spec.tenants.size(); ++t) {
    TenantProfile& tp = p.tenants[t];
    tp.batch_sizes = plan.spec.tenants[t].batch_sizes;
    tp.slo_ns = int64_t(std::llround(plan.spec.tenants[t].slo_ms * 1e6));
    tp.layer_ns.assign(plan.kernels[t].size(), {});
    tp.layer_weight_pages.assign(plan.kernels[t].size(), {});
    tp.layer_other_pages.assign(plan.kernels[t].size(), {});
    tp.layer_splits.assign(plan.kernels[t].size(), {});
    std::vector<std::pair<uint32_t, uint32_t>> runs;
    for (const auto& ks : plan.kernels[t])
      for (uint32_t k : ks)
        runs.insert(runs.end(), w.footprint_runs.begin() + int64_t(w.kernel_runs[k].first),
                    w.footprint_runs.begin() + int64_t(w.kernel_runs[k].second));
    std::sort(runs.begin(), runs.end());
    int64_t covered_to = -1;  // pages up to this one counted
    for (const auto& [first, last] : runs) {
      if (int64_t(last) <= covered_to) continue;
      tp.footprint_pages += uint64_t(int64_t(last) - std::max<int64_t>(int64_t(first) - 1, covered_to));
      covered_to = last;
    }
    for (size_t v = 0; v < plan.kernels[t].size(); ++v) {
      for (size_t l = 0; l < plan.kernels[t][v].size(); ++l) {
        const uint32_t k = plan.kernels[t][v][l];
        uint64_t wp = 0, all = 0;
        for (uint64_t r = w.kernel_runs[k].first; r < w.kernel_runs[k].second; ++r) {
          const auto [first, last] = w.footprint_runs[r];
          all += last - first + 1;
          for (const auto& [lo, hi] : weights)
            if (first < hi && last >= lo) wp += std::min(last + 1, hi) - std::max(first, lo);
        }
        tp.layer_ns[v].push_back(int64_t(w.trace.kernels[k].resident_ns));
        tp.layer_weight_pages[v].push_back(uint32_t(wp));
        tp.layer_other_pages[v].push_back(uint32_t(all - wp));
        std::vector<bool> splits(tp.batch_sizes.size(), false);
        for (size_t s = 0; s < splits.size(); ++s)
          splits[s] = t < plan.sub_kernels.size() && v < plan.sub_kernels[t].size() &&
                      l < plan.sub_kernels[t][v].size() && !plan.sub_kernels[t][v][l][s].empty();
        tp.layer_splits[v].push_back(std::move(splits));
      }
    }
  }
}

}  // namespace

std::string ServingTemplates::key(const ServeSpec& spec, bool layers) {
  nlohmann::json k = nlohmann::json::array();
  for (const ServeTenantSpec& t : spec.tenants)
    k.push_back({t.name, t.model, t.batch_sizes, t.own_process, t.cold});
  return k.dump() + (layers ? " layers" : "");
}

std::shared_ptr<const ServingTemplates> ServingTemplates::make(const ServeSpec& spec, bool layers) {
  std::vector<ServingModel> models;
  for (const ServeTenantSpec& t : spec.tenants)
    models.push_back({t.model, t.batch_sizes, t.own_process, t.cold});
  ServingTrace st = generate_serving(models);
  auto out = std::make_shared<ServingTemplates>();
  if (layers) out->sub_kernels = add_sub_batches(st, models);
  for (size_t i = 0; i < spec.tenants.size(); ++i) st.trace.tenants[i].name = spec.tenants[i].name;
  out->kernels = std::move(st.kernels);
  out->cold_ops = std::move(st.cold_ops);
  out->issued_ops = st.issued_ops;
  out->workload = std::make_shared<const Workload>(Workload::build(std::move(st.trace), "generated-serving"));
  return out;
}

std::shared_ptr<const ServingTemplates> TemplateCache::get(const ServeSpec& spec, bool layers) {
  const std::string k = ServingTemplates::key(spec, layers);
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> g(m_);
    std::shared_ptr<Slot>& s = slots_[k];
    if (!s) s = std::make_shared<Slot>();
    slot = s;
  }
  // Made once, by the first run to ask; the others wait for it (a failure is each asker's error).
  std::lock_guard<std::mutex> g(slot->m);
  if (!slot->templates) slot->templates = ServingTemplates::make(spec, layers);
  return slot->templates;
}

ServeResult serve(const ServeSpec& spec, const Config& c, ProgressReporter* progress, Timeline* timeline,
                  TemplateCache* cache) {
  const bool layers = needs(spec, c, &PolicyInfo::needs_layers);
  const std::shared_ptr<const ServingTemplates> tp =
      cache ? cache->get(spec, layers) : ServingTemplates::make(spec, layers);
  ServingPlan plan;
  plan.spec = spec;
  plan.kernels = tp->kernels;
  plan.cold_ops = tp->cold_ops;
  plan.issued_ops = tp->issued_ops;
  plan.trace_times.resize(spec.tenants.size());
  for (size_t i = 0; i < spec.tenants.size(); ++i)
    if (spec.tenants[i].arrivals.kind == ArrivalKind::kTrace)
      plan.trace_times[i] = trace_arrivals(spec.tenants[i].arrivals, i);
  plan.active.assign(spec.tenants.size(), true);
  plan.sub_kernels = tp->sub_kernels;

  ServeResult r;
  r.workload = tp->workload;
  if (needs(spec, c, &PolicyInfo::needs_profile)) plan.profile = profile_tenants(*r.workload, c, plan);
  if (layers) add_layers(*r.workload, c, plan, plan.profile);
  r.profile = plan.profile;
  Run main = simulate_serving(*r.workload, c, plan, progress, timeline);
  r.stats = std::move(main.stats);
  r.requests = std::move(main.requests);
  r.start_ns = main.start_ns;
  r.tenants = summarise_tenants(spec, r.requests);
  if (spec.slowdown && spec.tenants.size() > 1) {
    for (size_t i = 0; i < spec.tenants.size(); ++i) {
      // Alone: the same workload and GPU (memory, SMs), the same arrivals, the other tenants idle.
      plan.active.assign(spec.tenants.size(), false);
      plan.active[i] = true;
      const Run alone = simulate_serving(*r.workload, c, plan, nullptr);
      const std::vector<TenantServing> a = summarise_tenants(spec, alone.requests);
      r.tenants[i].alone = a[i].latency;
      if (a[i].latency.mean > 0) r.tenants[i].slowdown = r.tenants[i].latency.mean / a[i].latency.mean;
    }
  } else if (spec.slowdown) {
    r.tenants[0].alone = r.tenants[0].latency;
    r.tenants[0].slowdown = 1;
  }
  return r;
}

std::vector<TenantServing> summarise_tenants(const ServeSpec& spec,
                                             const std::vector<RequestRecord>& requests) {
  std::vector<TenantServing> out(spec.tenants.size());
  std::vector<std::vector<int64_t>> lat(out.size()), queue(out.size()), exec(out.size()), paging(out.size());
  std::vector<int64_t> first(out.size(), INT64_MAX), last(out.size(), INT64_MIN);
  std::vector<uint64_t> met(out.size()), last_batch(out.size()), size_sum(out.size());
  for (const RequestRecord& q : requests) {
    if (!q.counted) continue;
    TenantServing& t = out[q.tenant];
    ++t.requests;
    lat[q.tenant].push_back(q.end_ns - q.arrival_ns);
    queue[q.tenant].push_back(q.start_ns - q.arrival_ns);
    exec[q.tenant].push_back(q.end_ns - q.start_ns);
    paging[q.tenant].push_back(q.paging_ns);
    first[q.tenant] = std::min(first[q.tenant], q.arrival_ns);
    last[q.tenant] = std::max(last[q.tenant], q.end_ns);
    const double slo = spec.tenants[q.tenant].slo_ms;
    if (slo > 0 && double(q.end_ns - q.arrival_ns) <= slo * 1e6) ++met[q.tenant];
    if (q.batch != last_batch[q.tenant]) {  // a batch's requests are consecutive in arrival order
      last_batch[q.tenant] = q.batch;
      ++t.batches;
      size_sum[q.tenant] += q.batch_size;
      t.faults += q.faults;
      t.bytes_in += q.bytes_in;
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    TenantServing& t = out[i];
    t.name = spec.tenants[i].name;
    t.model = spec.tenants[i].model;
    t.slo_ms = spec.tenants[i].slo_ms;
    t.latency = summarise(lat[i]);
    t.queueing = summarise(queue[i]);
    t.execution = summarise(exec[i]);
    t.paging = summarise(paging[i]);
    if (t.batches > 0) t.mean_batch_size = double(size_sum[i]) / double(t.batches);
    if (t.requests > 0 && last[i] > first[i]) {
      const double span_s = double(last[i] - first[i]) / 1e9;
      t.throughput_per_s = double(t.requests) / span_s;
      if (t.slo_ms > 0) t.goodput_per_s = double(met[i]) / span_s;
    }
    if (t.requests > 0 && t.slo_ms > 0) t.slo_attainment = double(met[i]) / double(t.requests);
  }
  return out;
}

namespace {

nlohmann::json summary_json(const LatencySummary& s) {
  return {{"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p95", s.p95}, {"p99", s.p99}, {"max", s.max}};
}

nlohmann::json spec_json(const ServeSpec& s) {
  nlohmann::json j;
  j["seed"] = s.seed;
  if (s.requests) j["requests"] = s.requests;
  if (s.duration_ns) j["duration_ms"] = double(s.duration_ns) / 1e6;
  j["warmup_requests"] = s.warmup_requests;
  j["warmup_ms"] = double(s.warmup_ns) / 1e6;
  j["slowdown"] = s.slowdown;
  nlohmann::json ts = nlohmann::json::array();
  for (const ServeTenantSpec& t : s.tenants) {
    nlohmann::json a = {{"process", to_string(t.arrivals.kind)}};
    switch (t.arrivals.kind) {
      case ArrivalKind::kClosed:
        a["in_flight"] = t.arrivals.in_flight;
        a["think_ms"] = double(t.arrivals.think_ns) / 1e6;
        break;
      case ArrivalKind::kGamma:
        a["cv"] = t.arrivals.cv;
        [[fallthrough]];
      case ArrivalKind::kPoisson:
        a["rate_per_s"] = t.arrivals.rate_per_s;
        break;
      case ArrivalKind::kTrace:
        a["trace"] = t.arrivals.trace;
        a["tenant"] = t.arrivals.trace_tenant;
        break;
    }
    nlohmann::json x = {{"name", t.name},
                        {"model", t.model},
                        {"batch_sizes", t.batch_sizes},
                        {"slo_ms", t.slo_ms},
                        {"process", t.own_process ? "own" : "shared"},
                        {"arrivals", a}};
    if (!t.batching.empty()) x["batching"] = {{"name", t.batching}, {"params", t.batching_params}};
    ts.push_back(std::move(x));
  }
  j["tenants"] = ts;
  return j;
}

}  // namespace

nlohmann::json serve_json(const ServeSpec& spec, const Config& c, const ServeResult& r) {
  nlohmann::json j = result_json(*r.workload, c, r.stats);
  j["spec"] = spec_json(spec);
  j["serving_start_ns"] = r.start_ns;
  nlohmann::json ts = nlohmann::json::array();
  for (const TenantServing& t : r.tenants) {
    nlohmann::json x = {{"name", t.name},
                        {"model", t.model},
                        {"requests", t.requests},
                        {"batches", t.batches},
                        {"mean_batch_size", t.mean_batch_size},
                        {"latency_ms", summary_json(t.latency)},
                        {"queueing_ms", summary_json(t.queueing)},
                        {"execution_ms", summary_json(t.execution)},
                        {"paging_ms", summary_json(t.paging)},
                        {"throughput_per_s", t.throughput_per_s},
                        {"slo_ms", t.slo_ms},
                        {"slo_attainment", t.slo_attainment},
                        {"goodput_per_s", t.goodput_per_s},
                        {"faults", t.faults},
                        {"bytes_in", t.bytes_in}};
    if (t.alone.count > 0) {
      x["alone_latency_ms"] = summary_json(t.alone);
      x["slowdown"] = t.slowdown;
    }
    if (ts.size() < r.profile.tenants.size() && !r.profile.tenants[ts.size()].latency_ns.empty()) {
      // The profile the policies read: per batch size, its latency alone at each SM share.
      const TenantProfile& p = r.profile.tenants[ts.size()];
      nlohmann::json rows = nlohmann::json::object();
      for (size_t b = 0; b < p.batch_sizes.size(); ++b) {
        std::vector<double> ms;
        for (int64_t ns : p.latency_ns[b]) ms.push_back(double(ns) / 1e6);
        rows[std::to_string(p.batch_sizes[b])] = ms;
      }
      x["profile"] = {{"sms", p.sms}, {"latency_ms_by_batch", rows}, {"knee_sms_at_5pct", p.knee(0.05)}};
    }
    ts.push_back(std::move(x));
  }
  j["tenants"] = ts;
  return j;
}

trace::Trace serving_recording(const ServeSpec& spec, const std::string& log_path) {
  const std::vector<uint8_t> bytes = files::read_regular_file(log_path, uint64_t{1} << 30);
  const std::string text(bytes.begin(), bytes.end());
  trace::Trace t;
  t.header.producer = trace::Producer::kTracer;
  t.header.producer_version = "uvm_serve";
  for (const ServeTenantSpec& ts : spec.tenants)
    t.tenants.push_back({ts.name, ts.model, ts.batch_sizes.back(), 0});
  bool summary = false;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    const size_t nl = std::min(text.find('\n', at), text.size());
    const std::string line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const std::string where = log_path + ":" + std::to_string(line_no) + ": ";
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
      if (j.contains("program")) {
        t.header.device_name = j.at("device").get<std::string>();
        t.header.sm_count = j.at("sm_count").get<uint32_t>();
        t.header.device_memory_bytes = j.at("memory_bytes").get<uint64_t>();
        t.header.command = "uvm_serve --spec " + j.at("spec").get<std::string>();
        t.passes.push_back({trace::PassKind::kTiming, j.at("wall_ns").get<int64_t>(),
                            "uvm_serve: a native serving run (workloads/serve_runtime.cu)"});
        summary = true;
        continue;
      }
      const std::string name = j.at("tenant").get<std::string>();
      uint32_t tenant = 0;
      while (tenant < spec.tenants.size() && spec.tenants[tenant].name != name) ++tenant;
      if (tenant == spec.tenants.size()) throw SpecError("tenant \"" + name + "\" is not in the spec");
      trace::Request q;
      q.tenant = tenant;
      q.arrival_ns = j.at("arrival_ns").get<int64_t>();
      q.start_ns = j.at("start_ns").get<int64_t>();
      q.end_ns = j.at("end_ns").get<int64_t>();
      q.batch = j.at("batch").get<uint64_t>();
      q.batch_size = j.at("batch_size").get<uint32_t>();
      if (q.start_ns < q.arrival_ns || q.end_ns < q.start_ns || q.batch == 0 || q.batch_size == 0)
        throw SpecError("a request that was not served whole (arrival <= start <= end, a batch)");
      t.requests.push_back(q);
    } catch (const SpecError& e) {
      throw SpecError(where + e.what());
    } catch (const std::exception& e) {
      throw SpecError(where + "not a uvm_serve request line (" + e.what() + ")");
    }
  }
  if (!summary) throw SpecError(log_path + ": no summary line: the run did not finish");
  std::stable_sort(
      t.requests.begin(), t.requests.end(),
      [](const trace::Request& a, const trace::Request& b) { return a.arrival_ns < b.arrival_ns; });
  return t;
}

void write_requests_csv(const ServeSpec& spec, const std::vector<RequestRecord>& requests, std::ostream& os) {
  os << "tenant,request,arrival_ns,start_ns,end_ns,batch,batch_size,faults,bytes_in,paging_ns,counted\n";
  for (const RequestRecord& q : requests)
    os << spec.tenants[q.tenant].name << ',' << q.id << ',' << q.arrival_ns << ',' << q.start_ns << ','
       << q.end_ns << ',' << q.batch << ',' << q.batch_size << ',' << q.faults << ',' << q.bytes_in << ','
       << q.paging_ns << ',' << (q.counted ? 1 : 0) << '\n';
}

}  // namespace uvmsim

#include "sim/serving/server.h"

#include <algorithm>

#include "sim/config/make_policy.h"

namespace uvmsim {

Server::Server(Engine& engine, const Workload& w, const Config& c, const ServingPlan& plan, Host& host,
               const Stats& stats, SmLimiter limit_sms)
    : engine_(engine),
      id_(engine.attach(*this)),
      w_(w),
      cfg_(c),
      plan_(plan),
      host_(host),
      stats_(stats),
      limit_sms_(std::move(limit_sms)) {
  const ServeSpec& s = plan.spec;
  tenants_.resize(s.tenants.size());
  for (uint32_t i = 0; i < tenants_.size(); ++i) {
    const ServeTenantSpec& ts = s.tenants[i];
    Tenant& t = tenants_[i];
    t.clock = std::make_unique<Clock>(*this, i);
    const BatchingContext ctx{*t.clock, plan.profile.tenants.empty() ? nullptr : &plan.profile, i};
    if (ts.batching.empty()) {
      t.policy = make_policy<BatchingKind>(c, ctx);
    } else {
      try {
        t.policy = BatchingRegistry::instance().make(ts.batching, ts.batching_params, ctx);
      } catch (const std::invalid_argument& e) {
        throw SpecError("tenants[" + std::to_string(i) + "].batching: " + e.what());
      }
    }
    t.arrivals = std::make_unique<Arrivals>(
        ts.arrivals, s.seed, i, i < plan.trace_times.size() ? plan.trace_times[i] : std::vector<int64_t>{});
    t.sizes = ts.batch_sizes;
    t.stream = host.stream(w.trace.tenants[i].process, w.trace.kernels[plan.kernels[i][0][0]].stream);
  }
}

void Server::start() {
  t0_ = engine_.now();
  for (uint32_t i = 0; i < tenants_.size(); ++i) {
    if (!plan_.active[i]) continue;
    const ArrivalSpec& a = plan_.spec.tenants[i].arrivals;
    if (a.kind == ArrivalKind::kClosed) {
      for (uint32_t n = 0; n < a.in_flight; ++n) schedule_arrival(i, t0_);
    } else {
      const int64_t gap = tenants_[i].arrivals->next_gap();
      if (gap >= 0) schedule_arrival(i, t0_ + gap);
    }
  }
}

void Server::schedule_arrival(uint32_t tenant, int64_t at) {
  Tenant& t = tenants_[tenant];
  if (!plan_.spec.may_arrive(t.generated, at - t0_)) return;
  ++t.generated;  // counted when scheduled, so that the closed loop's batch of arrivals respects the limit
  engine_.at(at, kPrioHost, id_, kEvArrival, tenant);
}

void Server::handle(const Event& e) {
  switch (ServerEvent(e.type)) {
    case kEvArrival:
      arrive(e.a);
      break;
    case kEvDecide:
      if (e.b == tenants_[e.a].decide_stamp) decide(e.a);
      break;
    case kEvPolicyTimer:
      tenants_[e.a].policy->on_timer(e.b);
      decide(e.a);
      break;
  }
}

const char* Server::event_name(uint8_t type) const {
  return type == kEvArrival ? "request arrival" : type == kEvDecide ? "batching decision" : "batching timer";
}

void Server::arrive(uint32_t tenant) {
  Tenant& t = tenants_[tenant];
  const ServeSpec& s = plan_.spec;
  RequestRecord r;
  r.tenant = tenant;
  r.arrival_ns = engine_.now();
  r.id = t.arrived++;
  r.counted = s.counted(r.id, r.arrival_ns - t0_);
  t.queue.push_back(uint32_t(requests_.size()));
  requests_.push_back(r);
  engine_.progressed();
  if (s.tenants[tenant].arrivals.kind != ArrivalKind::kClosed) {
    const int64_t gap = t.arrivals->next_gap();
    if (gap >= 0) schedule_arrival(tenant, engine_.now() + gap);
  }
  decide(tenant);
}

void Server::decide(uint32_t tenant) {
  Tenant& t = tenants_[tenant];
  if (t.queue.empty() && !t.busy) return;
  const BatchQueueView v{tenant,
                         uint32_t(t.queue.size()),
                         t.queue.empty() ? 0 : requests_[t.queue.front()].arrival_ns,
                         engine_.now(),
                         t.busy,
                         t.sizes};
  const BatchDecision d = t.policy->decide(v);
  if (d.size > 0) {
    if (!keeps_contract(v, d.size))
      throw SimError("batching policy of tenant " + plan_.spec.tenants[tenant].name +
                     " asked for a batch of " + std::to_string(d.size) + " with " +
                     std::to_string(t.queue.size()) + " queued" + (t.busy ? " while a batch runs" : "") +
                     " (a batch size must be one the tenant allows and at most what is queued)");
    start_batch(tenant, d);
  } else if (d.wait_until >= 0) {
    engine_.at(std::max(d.wait_until, engine_.now()), kPrioHost, id_, kEvDecide, tenant, ++t.decide_stamp);
  }
}

void Server::start_batch(uint32_t tenant, const BatchDecision& d) {
  Tenant& t = tenants_[tenant];
  const uint32_t size = d.size;
  const std::vector<uint32_t>& layer_sizes = d.layer_sizes;
  t.busy = true;
  ++batches_;
  t.batch.assign(t.queue.begin(), t.queue.begin() + size);
  t.queue.erase(t.queue.begin(), t.queue.begin() + size);
  for (uint32_t r : t.batch) {
    requests_[r].start_ns = engine_.now();
    requests_[r].batch = batches_;
    requests_[r].batch_size = size;
  }
  t.variant = size_t(std::find(t.sizes.begin(), t.sizes.end(), size) - t.sizes.begin());
  // Each layer whole, or as the sub-batches the policy asked for.
  const std::vector<uint32_t>& ks = plan_.kernels[tenant][t.variant];
  t.launched.clear();
  for (size_t l = 0; l < ks.size(); ++l) {
    const uint32_t want = l < layer_sizes.size() ? layer_sizes[l] : 0;
    const size_t first = t.launched.size();
    if (want == 0 || want == size) {
      t.launched.push_back(ks[l]);
    } else {
      const size_t s = size_t(std::find(t.sizes.begin(), t.sizes.end(), want) - t.sizes.begin());
      const auto* sub = tenant < plan_.sub_kernels.size() && t.variant < plan_.sub_kernels[tenant].size() &&
                                l < plan_.sub_kernels[tenant][t.variant].size() && s < t.sizes.size()
                            ? &plan_.sub_kernels[tenant][t.variant][l][s]
                            : nullptr;
      if (!sub || sub->empty())
        throw SimError("batching policy of tenant " + plan_.spec.tenants[tenant].name + " asked layer " +
                       std::to_string(l) + " of a batch of " + std::to_string(size) +
                       " to run as sub-batches of " + std::to_string(want) +
                       " (a size the tenant allows that divides the batch)");
      t.launched.insert(t.launched.end(), sub->begin(), sub->end());
    }
    // Each launch's SM limit, this decision's (0: none): the templates are shared by every batch.
    if (limit_sms_)
      for (size_t i = first; i < t.launched.size(); ++i)
        limit_sms_(t.launched[i], l < d.layer_sms.size() ? d.layer_sms[l] : 0);
  }
  t.faults_before.clear();
  for (uint32_t k : t.launched) t.faults_before.push_back(stats_.kernels[k].faults);
  t.bytes_before = stats_.tenants[tenant].bytes_in;
  t.paging_ns = 0;
  t.kernels_left = uint32_t(t.launched.size());
  if (tenant < plan_.cold_ops.size())
    for (uint32_t op : plan_.cold_ops[tenant]) host_.enqueue_op(t.stream, op);
  for (uint32_t k : t.launched) host_.launch(t.stream, k, *this);
}

int64_t Server::resident_ns(uint32_t kernel, uint32_t sms) const {
  const trace::Kernel& k = w_.trace.kernels[kernel];
  const uint32_t all = uint32_t(cfg_.gpu.sm_count);
  if (sms == 0 || sms >= all || k.cta_count == 0) return k.resident_ns;
  const auto& g = cfg_.gpu;
  const uint64_t per_sm = ctas_per_sm(k, uint32_t(g.max_threads_per_sm), uint32_t(g.max_ctas_per_sm),
                                      uint32_t(g.regs_per_sm), uint32_t(g.smem_per_sm_bytes));
  const auto waves = [&](uint64_t n) { return (k.cta_count + per_sm * n - 1) / (per_sm * n); };
  return int64_t(double(k.resident_ns) * double(waves(sms)) / double(waves(all)));
}

void Server::launched_kernel_done(uint32_t stream, uint32_t kernel) {
  (void)stream;
  const uint32_t tenant = w_.trace.kernels[kernel].tenant;
  Tenant& t = tenants_[tenant];
  const KernelRecord& kr = stats_.kernels[kernel];
  // The batch's kernels complete in order on the tenant's stream. A kernel that raised no fault pays no
  // paging: its time beyond the resident one is other tenants' CTAs sharing its SMs.
  const size_t pos = t.launched.size() - t.kernels_left;
  if (kr.faults > t.faults_before[pos])
    t.paging_ns += std::max<int64_t>(0, (kr.end_ns - kr.start_ns) - resident_ns(kernel, kr.sms));
  if (--t.kernels_left == 0) finish_batch(tenant);
}

void Server::finish_batch(uint32_t tenant) {
  Tenant& t = tenants_[tenant];
  uint64_t faults = 0;
  for (size_t i = 0; i < t.launched.size(); ++i)
    faults += stats_.kernels[t.launched[i]].faults - t.faults_before[i];
  const uint64_t bytes = stats_.tenants[tenant].bytes_in - t.bytes_before;
  for (uint32_t r : t.batch) {
    RequestRecord& q = requests_[r];
    q.end_ns = engine_.now();
    q.faults = faults;
    q.bytes_in = bytes;
    q.paging_ns = t.paging_ns;
  }
  t.busy = false;
  const ArrivalSpec& a = plan_.spec.tenants[tenant].arrivals;
  if (a.kind == ArrivalKind::kClosed)
    for (size_t i = 0; i < t.batch.size(); ++i) schedule_arrival(tenant, engine_.now() + a.think_ns);
  t.batch.clear();
  decide(tenant);
}

uint64_t Server::unfinished() const {
  return uint64_t(
      std::count_if(requests_.begin(), requests_.end(), [](const RequestRecord& r) { return r.end_ns < 0; }));
}

std::string Server::unfinished_message() const {
  std::string m;
  for (size_t i = 0; i < tenants_.size(); ++i) {
    const Tenant& t = tenants_[i];
    if (t.queue.empty()) continue;
    std::string sizes;
    for (uint32_t s : t.sizes) sizes += (sizes.empty() ? "" : ", ") + std::to_string(s);
    m += (m.empty() ? "" : "; ") + std::string("tenant ") + plan_.spec.tenants[i].name + ": " +
         std::to_string(t.queue.size()) +
         " requests never ran: its batching policy left them queued (batch_sizes [" + sizes +
         "]; a batch size above what is queued at the end, and no timeout?)";
  }
  return m;
}

}  // namespace uvmsim

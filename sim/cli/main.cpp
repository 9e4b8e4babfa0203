// The uvmsim command line. Every error becomes one clear message and a non-zero exit.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "cuda_tracer/convert.h"
#include "policies/policy.h"
#include "sim/cli/calibrate.h"
#include "sim/cli/compare.h"
#include "sim/cli/output_dir.h"
#include "sim/cli/run.h"
#include "sim/cli/serve.h"
#include "sim/cli/sm_sharing.h"
#include "sim/cli/sweep.h"
#include "sim/cli/validate.h"
#include "sim/version.h"
#include "traces/files.h"
#include "traces/trace_io.h"
#include "workloads/generate.h"
#include "workloads/micro.h"

using namespace uvmsim;

namespace {

// `uvmsim policies`: every kind with its default, and each policy with its declared parameters.
void list_policies() {
  for (auto& [kind, k] : PolicyCatalog::instance().kinds()) {
    std::cout << kind << " (default " << k.default_policy << "): " << k.description << "\n";
    for (auto& [name, p] : k.policies) {
      std::cout << "  " << std::left << std::setw(24) << name << (name.size() >= 24 ? " " : "")
                << p.description << "\n";
      for (auto& q : p.params)
        std::cout << "    " << std::setw(22) << q.name << (q.type == ParamType::kInt ? "int" : "float") << " "
                  << q.unit << " [" << q.min << ", " << q.max << "] default " << q.default_value << ": "
                  << q.description << "\n";
    }
  }
}

std::string command_line(int argc, char** argv) {
  std::string c;
  for (int i = 0; i < argc; ++i) c += (i ? " " : "") + std::string(argv[i]);
  return c;
}

// --timeline-window "A:B": simulated milliseconds (either side may be left empty: from the start, to the
// end).
Timeline make_timeline(const std::string& window) {
  Timeline t;
  if (window.empty()) return t;
  const size_t colon = window.find(':');
  const auto ms = [&](const std::string& text, int64_t dflt) {
    if (text.empty()) return dflt;
    size_t used = 0;
    double v = -1;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || !(v >= 0) || v > 1e12)
      throw std::invalid_argument("--timeline-window '" + window +
                                  "': expected START:END in simulated milliseconds (0:50, 10:, :5)");
    return int64_t(std::llround(v * 1e6));
  };
  if (colon == std::string::npos)
    throw std::invalid_argument("--timeline-window '" + window + "': expected START:END (milliseconds)");
  t.window_begin_ns = ms(window.substr(0, colon), 0);
  t.window_end_ns = ms(window.substr(colon + 1), std::numeric_limits<int64_t>::max());
  if (t.window_end_ns <= t.window_begin_ns)
    throw std::invalid_argument("--timeline-window '" + window + "': its end is not after its start");
  return t;
}

void write_timeline_file(files::AtomicFile& f, const Timeline& t, const Workload& w,
                         const std::vector<TimelineRequest>& requests) {
  std::vector<std::string> kernels, tenants;
  for (const auto& k : w.trace.kernels) kernels.push_back(k.name);
  for (size_t i = 0; i < w.trace.tenants.size(); ++i)
    tenants.push_back(w.trace.tenants[i].name.empty() ? "tenant " + std::to_string(i)
                                                      : w.trace.tenants[i].name);
  if (tenants.empty()) tenants.push_back("tenant 0");
  write_timeline(f.stream(), t, kernels, tenants, requests);
  f.commit();
}

int cmd_run(const std::string& trace_path, const std::string& config, const std::vector<std::string>& sets,
            const std::string& out, const std::string& batch_log, bool check,
            const std::string& timeline_path, const std::string& timeline_window,
            const std::string& command) {
  // Every output is checked before any work: a bad path fails now, not after the simulation.
  OutputDir dir(out, "--out", command);
  Timeline timeline = make_timeline(timeline_window);
  if (!timeline_path.empty()) files::check_output_file(timeline_path, "--timeline");
  const bool log_in_dir = !batch_log.empty() && dir.holds(batch_log);
  if (!batch_log.empty() && !log_in_dir) files::check_output_file(batch_log, "--batch-log");
  Config c = load_config(config, sets);
  Workload w = Workload::load(trace_path);
  dir.begin();
  std::unique_ptr<files::AtomicFile> log_file;
  std::ostream* log = nullptr;
  if (log_in_dir) {
    log = &dir.file(std::filesystem::path(batch_log).filename().string());
  } else if (!batch_log.empty()) {
    log_file = std::make_unique<files::AtomicFile>(batch_log, "--batch-log");
    log = &log_file->stream();
  }
  ProgressReporter progress;
  RunResult r = simulate(w, c, check, log, &progress, nullptr, timeline_path.empty() ? nullptr : &timeline);
  const nlohmann::json j = result_json(w, c, r.stats);
  if (!timeline_path.empty()) {
    files::AtomicFile f(timeline_path, "--timeline");
    write_timeline_file(f, timeline, w, {});
  }
  dir.write("config.json", to_json(c).dump(2) + "\n");
  dir.write("stats.json", j.dump(2) + "\n");
  if (log_file) log_file->commit();
  dir.commit();
  const Stats& s = r.stats;
  std::printf(
      "simulated %.3f ms: %llu faults in %llu batches (%.1f per batch), %.1f MiB HtoD, %.1f MiB DtoH%s\n",
      double(s.sim_time_ns) / 1e6, (unsigned long long)s.faults_fetched, (unsigned long long)s.batches,
      s.faults_per_batch.mean(), double(htod_bytes(s)) / (1 << 20), double(dtoh_bytes(s)) / (1 << 20),
      check ? "; audit passed" : "");
  return 0;
}

// `uvmsim serve`: requests served under a config; stats.json, requests.csv and config.json in --out.
int cmd_serve(const std::string& spec_path, const std::string& config, const std::vector<std::string>& sets,
              const std::string& out, const std::string& timeline_path, const std::string& timeline_window,
              const std::string& command) {
  OutputDir dir(out, "--out", command);
  Timeline timeline = make_timeline(timeline_window);
  if (!timeline_path.empty()) files::check_output_file(timeline_path, "--timeline");
  const ServeSpec spec = load_serve_spec(spec_path);
  Config c = load_config(config, sets);
  ProgressReporter progress;
  const ServeResult r = serve(spec, c, &progress, timeline_path.empty() ? nullptr : &timeline);
  if (!timeline_path.empty()) {
    std::vector<TimelineRequest> requests;
    for (const RequestRecord& q : r.requests)
      requests.push_back({q.tenant, q.id, q.batch, q.arrival_ns, q.start_ns, q.end_ns});
    files::AtomicFile f(timeline_path, "--timeline");
    write_timeline_file(f, timeline, *r.workload, requests);
  }
  dir.begin();
  dir.write("config.json", to_json(c).dump(2) + "\n");
  dir.write("stats.json", serve_json(spec, c, r).dump(2) + "\n");
  write_requests_csv(spec, r.requests, dir.file("requests.csv"));
  dir.commit();
  std::printf("%-20s %9s %8s %9s %9s %9s %10s %8s %9s\n", "tenant", "requests", "batches", "p50_ms", "p99_ms",
              "mean_ms", "req_per_s", "slo_met", "slowdown");
  for (const TenantServing& t : r.tenants)
    std::printf("%-20s %9llu %8llu %9.3f %9.3f %9.3f %10.1f %7.1f%% %9.2f\n", t.name.c_str(),
                (unsigned long long)t.requests, (unsigned long long)t.batches, t.latency.p50, t.latency.p99,
                t.latency.mean, t.throughput_per_s, 100 * t.slo_attainment, t.slowdown);
  return 0;
}

// The main job: the micro-workloads at 100%, 75% and 50% of their footprint under the default driver.
int cmd_micro_table(const std::string& config, const std::vector<std::string>& sets,
                    const std::string& bytes_text) {
  uint64_t bytes = parse_bytes(bytes_text);
  std::printf("%-8s %9s %6s %11s %11s %9s %8s %9s %10s %10s %8s\n", "pattern", "size", "memory", "touch_ms",
              "again_ms", "faults", "batches", "f/batch", "HtoD_MiB", "DtoH_MiB", "evicted");
  for (bool random : {false, true}) {
    MicroSpec spec;
    spec.pattern = random ? MicroPattern::kRandom : MicroPattern::kSeq;
    spec.bytes = bytes;
    spec.host_init = true;
    Workload w = Workload::build(generate_micro(spec), "generated");
    for (double frac : {1.0, 0.75, 0.5}) {
      Config c = load_config(config, sets);
      c.gpu.memory_fraction = frac;
      RunResult r = simulate(w, c, true);
      const Stats& s = r.stats;
      auto dur = [&](size_t k) { return double(s.kernels[k].end_ns - s.kernels[k].start_ns) / 1e6; };
      std::printf("%-8s %6lluMiB %5.0f%% %11.3f %11.3f %9llu %8llu %9.1f %10.1f %10.1f %8llu\n",
                  random ? "random" : "seq", (unsigned long long)(bytes >> 20), frac * 100, dur(0), dur(1),
                  (unsigned long long)s.faults_fetched, (unsigned long long)s.batches,
                  s.faults_per_batch.mean(), double(htod_bytes(s)) / (1 << 20),
                  double(s.bytes_dtoh[3]) / (1 << 20), (unsigned long long)s.chunks_evicted);
    }
  }
  std::printf(
      "(touch: GPU first touch after CPU initialisation; again: the same kernel a second time; every run\n"
      " passed the conservation audit)\n");
  return 0;
}

int cmd_validate(const std::string& trace_path, const std::string& config,
                 const std::vector<std::string>& sets, const std::string& json_out,
                 const std::string& batch_log) {
  if (!json_out.empty()) files::check_output_file(json_out, "--json");
  if (!batch_log.empty()) files::check_output_file(batch_log, "--batch-log");
  const Workload w = Workload::load(trace_path);
  // The config given, else the one of the GPU the trace was recorded on; the recording's GPU and driver
  // parameters over it; then the user's overrides.
  std::string name = config;
  Config c = with_recording(config.empty() ? recording_gpu_config(w.trace, &name) : load_config(config, {}),
                            w.trace);
  std::cout << "config " << name << "\n";
  for (const std::string& s : sets) apply_override(c, s);
  std::unique_ptr<files::AtomicFile> log;
  if (!batch_log.empty()) log = std::make_unique<files::AtomicFile>(batch_log, "--batch-log");
  const Validation v = validate(w, c, trace_path, log ? &log->stream() : nullptr);
  print_validation(v, std::cout);
  if (!json_out.empty()) files::write_file_atomic(json_out, validation_json(v).dump(2) + "\n", "--json");
  if (log) log->commit();
  return 0;
}

// `uvmsim config-schema`: every key with its type, unit, bounds, default and meaning.
void print_config_schema() {
  auto bound = [](double v) {
    std::ostringstream os;
    os << std::setprecision(v >= 1e12 ? 2 : 12) << v;  // 9e+18: the largest a key takes
    return os.str();
  };
  std::cout << std::left << std::setw(44) << "key" << std::setw(7) << "type" << std::setw(10) << "unit"
            << std::setw(26) << "bounds" << std::setw(16) << "default"
            << " meaning\n";
  for (auto& k : config_schema()) {
    const std::string bounds = k.type == "string" ? "" : "[" + bound(k.min) + ", " + bound(k.max) + "]";
    std::cout << std::setw(44) << k.path << std::setw(7) << k.type << std::setw(10) << k.unit << std::setw(26)
              << bounds << std::setw(16) << k.default_value << " " << k.description << "\n";
  }
}

// `uvmsim stats-schema`: every statistic of stats.json with its unit and meaning.
void print_stats_schema() {
  std::cout << std::left << std::setw(34) << "statistic" << std::setw(10) << "unit"
            << "meaning\n";
  for (auto& s : describe_stats())
    std::cout << std::setw(34) << s.name << std::setw(10) << s.unit << s.description << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"uvmsim: a trace-driven simulator of GPU unified memory"};
  app.set_version_flag("--version", std::string("uvmsim ") + kVersion);
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();
  app.footer(
      "Examples:\n"
      "  uvmsim generate --pattern random --bytes 1GiB --host-init --out r.uvmt\n"
      "  uvmsim run --trace r.uvmt --config sim/configs/h100.json --set gpu.memory_fraction=0.5 --out "
      "out/r50\n"
      "  uvmsim SUBCOMMAND --help     (each subcommand's options, defaults and an example)");
  const std::string command = command_line(argc, argv);

  std::string max_trace_bytes = std::to_string(trace::default_read_limits().max_body_bytes >> 30) + "GiB";
  uint64_t max_trace_ratio = trace::default_read_limits().max_ratio;
  app.add_option("--max-trace-bytes", max_trace_bytes,
                 "largest decompressed trace body any command reads (a size: 16GiB, 512MiB)");
  app.add_option("--max-trace-ratio", max_trace_ratio,
                 "largest decompressed body per byte of trace file (corpus traces reach about 260)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));

  std::string trace_path, config, out, batch_log;
  std::vector<std::string> sets;
  bool check = false;
  auto* run = app.add_subcommand("run", "simulate a trace under a config");
  run->add_option("--trace", trace_path, "trace (.uvmt)")->required();
  run->add_option("--config", config, "config JSON (built-in defaults, the H100 fit, if omitted)");
  run->add_option("--set", sets,
                  "override a config key: a.b=value (repeatable; uvmsim config-schema lists them)");
  run->add_option("--out", out,
                  "output folder for stats.json and config.json (created; an existing one must hold only "
                  "uvmsim's results, which are replaced when the run completes)")
      ->required();
  run->add_option("--batch-log", batch_log, "write one line per fault batch to this file (a regular file)");
  run->add_flag("--check", check, "run the conservation audit at the end (fails on any inconsistency)");
  std::string timeline_path, timeline_window;
  run->add_option("--timeline", timeline_path,
                  "write the run's timeline (kernels per tenant, CTAs stalled per SM, fault batches, copies, "
                  "evictions) as a Chrome trace JSON that the Perfetto UI opens (a regular file)");
  run->add_option(
      "--timeline-window", timeline_window,
      "only what overlaps START:END simulated milliseconds (bounds the timeline's size; 0:50, 10:)");
  run->footer(
      "Example:\n  uvmsim run --trace traces/corpus/micro_seq_1g.uvmt --config sim/configs/h100.json "
      "--set gpu.memory_fraction=0.5 --out out/seq50 --batch-log out/seq50.log --check");

  std::string serve_spec, serve_config, serve_out;
  std::vector<std::string> serve_sets;
  auto* serve_cmd = app.add_subcommand(
      "serve", "serve request streams of several models on one GPU: arrivals, batching, latency percentiles");
  serve_cmd->add_option("--spec", serve_spec, "serving spec (JSON; sim/serving/README.md)")->required();
  serve_cmd->add_option("--config", serve_config, "config JSON (built-in defaults if omitted)");
  serve_cmd->add_option("--set", serve_sets, "override a config key: a.b=value (repeatable)");
  serve_cmd
      ->add_option("--out", serve_out,
                   "output folder for stats.json, requests.csv and config.json (as uvmsim run --out)")
      ->required();
  serve_cmd->add_option("--timeline", timeline_path,
                        "write the main run's timeline, requests included (as uvmsim run --timeline)");
  serve_cmd->add_option("--timeline-window", timeline_window, "only what overlaps START:END simulated ms");
  serve_cmd->footer(
      "Example:\n  uvmsim serve --spec sim/serving/examples/mix4.json --config sim/configs/h200.json "
      "--set gpu.memory_fraction=0.75 --out out/mix75");

  MicroSpec spec;
  std::string pattern, bytes_text = "64MiB", gen_out, models;
  auto* gen = app.add_subcommand(
      "generate",
      "write a synthetic trace: a micro-workload (--pattern) or layer kernels of models (--models)");
  auto* o_pattern =
      gen->add_option("--pattern", pattern,
                      "micro-workload: seq, random or strided (CTA c's thread t touches page t * "
                      "CTAs + c)")
          ->check(CLI::IsMember({"seq", "random", "strided"}));
  std::vector<CLI::Option*> micro_opts = {o_pattern};
  micro_opts.push_back(
      gen->add_option("--bytes", bytes_text, "with --pattern: size of the managed allocation (64MiB, 1GiB)"));
  micro_opts.push_back(gen->add_option("--threads-per-cta", spec.threads_per_cta,
                                       "with --pattern: threads per CTA (one page per thread)"));
  micro_opts.push_back(
      gen->add_option("--sharers", spec.sharers,
                      "with --pattern: CTAs touching each CTA's pages (neighbours share them: "
                      "duplicate faults)"));
  micro_opts.push_back(gen->add_option(
      "--page-stride", spec.page_stride,
      "with --pattern: the threads touch every N-th page (the pattern's i-th page times N; 512: one page per "
      "2 MiB VA block), and --host-init / --touch-back only those"));
  micro_opts.push_back(gen->add_option(
      "--run-pages", spec.run_pages,
      "with --pattern seq: the threads touch N consecutive pages of every 2N (half of the allocation; "
      "--host-init still writes all of it): the same faults in runs of N, so copies and mappings of another "
      "count"));
  micro_opts.push_back(
      gen->add_flag("--host-init", spec.host_init, "with --pattern: the CPU writes every page first"));
  micro_opts.push_back(gen->add_flag("--write", spec.write, "with --pattern: kernels write instead of read"));
  micro_opts.push_back(gen->add_flag("--prefetch", spec.prefetch,
                                     "with --pattern: cudaMemPrefetchAsync to the GPU before the kernels"));
  micro_opts.push_back(gen->add_flag("--touch-back", spec.touch_back,
                                     "with --pattern: the CPU reads every page after the kernels"));
  micro_opts.push_back(
      gen->add_option("--seed", spec.seed, "with --pattern random: seed of the random page order"));
  uint32_t requests = 1;
  auto* o_models = gen->add_option(
      "--models", models,
      "model mix, name:batch,... (alexnet, vgg16, resnet18, resnet50, mobilenet_v2, or a spec .json): the "
      "exact accesses of workloads/'s layer kernels, one stream per model");
  std::vector<CLI::Option*> model_opts;
  model_opts.push_back(
      gen->add_option("--requests", requests, "with --models: inferences per model, back to back"));
  bool processes = false;
  model_opts.push_back(gen->add_flag(
      "--processes", processes,
      "with --models: each model in its own process (CUDA context), which the GPU time-slices unless "
      "gpu.timeslice_ns is 0 (MPS); without it the models share one process and the SMs"));
  bool sync_requests = false;
  model_opts.push_back(gen->add_flag(
      "--sync-requests", sync_requests,
      "with --models: the host waits for the GPU after each request (each process for its own streams), as "
      "uvm_runtime's iterations do; without it requests run back to back on each model's stream"));
  std::string compare_with;
  model_opts.push_back(gen->add_option("--compare", compare_with,
                                       "with --models: also compare with this recording of uvm_runtime (the "
                                       "closed loop) and print the result"));
  for (auto* m : model_opts) m->needs(o_models);
  for (auto* m : micro_opts) m->excludes(o_models);
  gen->add_option("--out", gen_out, "output trace (.uvmt; a regular file or a new path)")->required();
  gen->footer(
      "Give either --pattern (a micro-workload) or --models (layer kernels), not both.\n"
      "Examples:\n"
      "  uvmsim generate --pattern random --bytes 1GiB --host-init --out r.uvmt\n"
      "  uvmsim generate --models resnet50:8,vgg16:1 --requests 2 --out mix.uvmt\n"
      "Limits: " +
      std::to_string(kMaxMicroBytes >> 30) + " GiB per micro-workload; batch " +
      std::to_string(kMaxGenerateBatch) + " per model, " + std::to_string(kMaxGenerateImages) +
      " images (batches summed over models) and " + std::to_string(kMaxGenerateRequests) +
      " requests per trace.");

  auto* tr = app.add_subcommand("trace", "show and convert traces");
  tr->require_subcommand(1);
  std::string tpath, csv_dir;
  uint64_t max_ranges = 16;
  auto* info = tr->add_subcommand("info", "summary of a trace");
  info->add_option("trace", tpath, "trace (.uvmt)")->required();
  info->footer("Example:\n  uvmsim trace info traces/corpus/torch_resnet18_b1.uvmt");
  auto* dump = tr->add_subcommand("dump", "every record, human-readable");
  dump->add_option("trace", tpath, "trace (.uvmt)")->required();
  dump->add_option("--max-ranges", max_ranges, "ranges shown per CTA");
  dump->footer("Example:\n  uvmsim trace dump traces/corpus/micro_seq_64m.uvmt --max-ranges 4 | less");
  auto* exp = tr->add_subcommand("export", "export sections as CSV files");
  exp->add_option("trace", tpath, "trace (.uvmt)")->required();
  exp->add_option("--csv", csv_dir, "output folder (one CSV per section; the rules of run --out)")
      ->required();
  exp->footer("Example:\n  uvmsim trace export traces/corpus/micro_seq_64m.uvmt --csv out/seq64_csv");

  std::string recode_out;
  int recode_level = 19;
  auto* recode = tr->add_subcommand("recode", "rewrite a trace (any readable version) in the current format");
  recode->add_option("trace", tpath, "trace (.uvmt)")->required();
  recode->add_option("--out", recode_out, "output trace (may be the input)")->required();
  recode->add_option("--level", recode_level, "zstd level")->check(CLI::Range(1, 22));
  bool recode_gaps = false;
  recode->add_flag("--repair-split-call-gaps", recode_gaps,
                   "give a split call's host gap to its first part only (traces converted before 2026-11-24 "
                   "repeated it for every part)");
  recode->footer("Example:\n  uvmsim trace recode old.uvmt --out new.uvmt");

  std::string raw_dir, conv_out;
  ConvertOptions conv;
  std::string req_spec, req_log, req_out;
  auto* req_cmd = tr->add_subcommand(
      "requests", "a native serving run's log (workloads/serve_runtime.cu) as a trace of its requests");
  req_cmd->add_option("--spec", req_spec, "the serving spec the run served")->required();
  req_cmd->add_option("--log", req_log, "uvm_serve's --log output (JSON lines)")->required();
  req_cmd->add_option("--out", req_out, "trace to write (.uvmt)")->required();
  req_cmd->footer(
      "Example:\n  uvmsim trace requests --spec sim/serving/examples/check_warm.json --log "
      "check_warm.1.jsonl "
      "--out check_warm.1.uvmt");
  auto* conv_cmd = tr->add_subcommand("convert", "merge a uvmtrace recording's raw passes into a trace");
  conv_cmd->add_option("--raw", raw_dir, "recording folder written by uvmtrace --out")->required();
  conv_cmd->add_option("--out", conv_out, "output trace (.uvmt)")->required();
  conv_cmd->add_option("--tenant", conv.tenant, "tenant name (default: the program's name, #0)");
  conv_cmd->add_option("--model", conv.model, "model name (default: the tenant's name)");
  conv_cmd->add_option("--batch", conv.batch, "batch size the program ran");
  conv_cmd->footer("Example:\n  uvmsim trace convert --raw rec/gemm --out gemm.uvmt");

  std::string retime_raw, retime_out;
  auto* retime = tr->add_subcommand("retime",
                                    "replace a recorded trace's kernel times with the median of repeated "
                                    "runs (uvmtrace --passes timing.1,...)");
  retime->add_option("trace", tpath, "recorded trace (.uvmt)")->required();
  retime
      ->add_option("--raw", retime_raw,
                   "recording folder with passes timing.1..N and optionally resident.1..M")
      ->required();
  retime->add_option("--out", retime_out, "output trace (may be the input)")->required();
  retime->footer("Example:\n  uvmsim trace retime rec.uvmt --raw rec/timing --out rec_retimed.uvmt");

  std::string stamp_tsv, stamp_out;
  auto* stamp = tr->add_subcommand("stamp-lines",
                                   "set a recorded trace's lines per warp access from an access capture's "
                                   "lines.tsv of the same program (cuda_tracer/record_lines.sh)");
  stamp->add_option("trace", tpath, "recorded trace (.uvmt)")->required();
  stamp->add_option("--lines", stamp_tsv, "the capture's lines.tsv (its launch L is the trace's kernel L)")
      ->required();
  stamp->add_option("--out", stamp_out, "output trace (may be the input)")->required();
  stamp->footer(
      "Example:\n  uvmsim trace stamp-lines rec.uvmt --lines lines/torch_alexnet_b1.tsv --out rec.uvmt");

  std::string validate_json;
  auto* val = app.add_subcommand("validate", "simulate a recorded trace and compare with what the GPU did");
  val->add_option("--trace", trace_path, "recorded trace (.uvmt)")->required();
  val->add_option("--config", config,
                  "config JSON (if omitted: sim/configs/h200.json or h100.json, compiled in, as the trace "
                  "was recorded on an H200 or an H100; else the built-in defaults); the recording's GPU and "
                  "driver parameters are applied over it");
  val->add_option("--set", sets, "override a config key: a.b=value (repeatable; applied last)");
  val->add_option("--json", validate_json, "also write the comparison as JSON (a regular file)");
  val->add_option(
      "--batch-log", batch_log,
      "write the simulated fault batches to this file, as uvmsim run --batch-log (a regular file)");
  val->footer(
      "Example:\n  uvmsim validate --trace traces/corpus/torch_resnet18_b1.uvmt --config "
      "sim/configs/h100.json");

  auto* pol = app.add_subcommand("policies", "list every registered policy with its parameters");
  pol->footer("Example:\n  uvmsim policies");
  auto* schema = app.add_subcommand("config-schema",
                                    "list every config key with its type, unit, bounds, default and meaning");
  schema->footer("Example:\n  uvmsim config-schema | grep driver.");
  auto* stats_schema =
      app.add_subcommand("stats-schema", "list every statistic of stats.json with its unit and meaning");
  stats_schema->footer("Example:\n  uvmsim stats-schema");

  std::string table_bytes = "1GiB";
  auto* table = app.add_subcommand("micro-table", "the main job: micro-workloads at 100/75/50% memory");
  table->add_option("--config", config, "config JSON");
  table->add_option("--set", sets, "override a config key: a.b=value (repeatable)");
  table->add_option("--bytes", table_bytes, "size of each micro-workload");
  table->footer("Example:\n  uvmsim micro-table --config sim/configs/h100.json --bytes 256MiB");

  CalibrateArgs cal;
  auto* calib =
      app.add_subcommand("calibrate", "fit the driver's costs to H100 measurements and recorded traces");
  calib->add_option("--measurements", cal.measurements, "measured rows (JSON)")->required();
  calib->add_option("--config", cal.config, "starting config")->required();
  calib->add_option("--out", cal.out, "fitted config to write (a regular file)");
  calib->add_option("--report", cal.report,
                    "markdown report with measured, simulated, error and leave-one-out (a regular file)");
  calib->add_option("--iterations", cal.iterations, "optimiser iterations per fit")
      ->check(CLI::Range(1, 1000000));
  calib->add_flag("--leave-one-out", cal.leave_one_out, "also refit without each row and predict it");
  calib->add_option("--jobs", cal.jobs, "threads simulating rows in parallel")->check(CLI::Range(1, 1024));
  calib->add_option(
      "--traces", cal.traces,
      "recorded traces fitted too (their paging overhead and prefetch share, as uvmsim validate "
      "scores them; a trace of the check set, traces/corpus/split.json, is refused)");
  calib->add_option("--split", cal.split,
                    "the check set (default: the split.json in a trace's folder or the two above it)");
  calib->add_option("--grid", cal.grid, "structural key searched exhaustively: key=v1,v2,... (repeatable)");
  calib->add_option("--hold", cal.hold,
                    "a calibrated key kept at the starting config's value, not fitted: a cost measured "
                    "directly, as scripts/driver_costs.py reads them off the driver's events (repeatable)");
  calib->footer(
      "Example:\n  uvmsim calibrate --measurements tests/data/h100_micro.json --config sim/configs/h100.json "
      "--out fitted.json --report fit.md");

  SmSharingArgs share;
  auto* sharing = app.add_subcommand(
      "sm-sharing", "the SM-sharing model against the H200's SM partitions, CTA limits and kernel pairs");
  sharing
      ->add_option("--recording", share.recordings,
                   "sm_share JSON lines (cuda_tracer/sm_share.sh) and profiles (cuda_tracer/ncu_profile.py)")
      ->required();
  sharing->add_option("--config", share.config, "config (its gpu.* SM-sharing parameters)")->required();
  sharing->add_option(
      "--memory-curve", share.memory_curve,
      "the GPU's memory curve (cuda_tracer/mem_latency.sh): the memory side's error on it, and "
      "with --fit the DRAM saturation exponent");
  sharing->add_flag(
      "--fit", share.fit,
      "fit the two load parameters on the fit half's alone cases first (the bandwidths are the config's)");
  sharing->add_option("--iterations", share.iterations, "optimiser iterations")->check(CLI::Range(1, 100000));
  sharing->add_option("--jobs", share.jobs, "threads simulating cases in parallel")->check(CLI::Range(1, 1024));
  sharing->add_option("--out", share.out, "config with the fitted parameters (a regular file)");
  sharing->add_option("--report", share.report, "markdown report (a regular file; default stdout)");
  sharing->footer(
      "Example:\n  uvmsim sm-sharing --recording cuda_tracer/recordings/sm_share_h200.jsonl --recording "
      "cuda_tracer/recordings/sm_share_torch_h200.jsonl --recording "
      "cuda_tracer/recordings/sm_share_profile_h200.jsonl --memory-curve "
      "cuda_tracer/recordings/mem_latency_h200.jsonl --config sim/configs/h200.json --fit --report "
      "results/sm_sharing.md");

  SweepArgs sweep_args;
  auto* sweep_cmd =
      app.add_subcommand("sweep",
                         "many runs of a trace, generator settings or serving spec over axes (config keys, "
                         "spec fields, mixes, policy sets, seeds), on threads or MPI ranks");
  sweep_cmd->add_option("--spec", sweep_args.spec, "sweep spec (JSON; the header of sim/cli/sweep.cpp)")
      ->required();
  sweep_cmd
      ->add_option("--out", sweep_args.out,
                   "results folder: results.csv, results.db and points/KEY/stats.json (and requests.csv); "
                   "run again to resume")
      ->required();
  sweep_cmd->add_option("--jobs", sweep_args.jobs, "threads running points at once")
      ->check(CLI::Range(1u, 1024u));
  sweep_cmd->footer(
      "Example (tests/data/sweep_mix.json; the figures' sweeps are sweeps/*.json):\n  uvmsim sweep --spec "
      "tests/data/sweep_mix.json --out out/sweep --jobs 2\n  mpirun -n 4 uvmsim sweep --spec "
      "sweeps/memory.json --out out/memory");

  std::string compare_a, compare_b;
  auto* cmp = app.add_subcommand("compare", "two runs' statistics side by side with their ratio (B / A)");
  cmp->add_option("A", compare_a, "a run's or serve's output folder, or its stats.json")->required();
  cmp->add_option("B", compare_b, "the other")->required();
  cmp->footer(
      "Prints the config keys in which the runs differ, then every statistic (serving tenants' by name) with "
      "A, B and B/A; statistics zero in both are left out.\nExample:\n  uvmsim compare out/mix50_baseline "
      "out/mix50_barm | grep latency_ms");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const char* input = nullptr;  // the file being read when memory ran out
  try {
    trace::default_read_limits().max_ratio = max_trace_ratio;
    trace::default_read_limits().max_body_bytes = parse_bytes(max_trace_bytes);
    if (run->parsed()) {
      input = trace_path.c_str();
      return cmd_run(trace_path, config, sets, out, batch_log, check, timeline_path, timeline_window,
                     command);
    }
    if (val->parsed()) {
      input = trace_path.c_str();
      return cmd_validate(trace_path, config, sets, validate_json, batch_log);
    }
    if (gen->parsed()) {
      files::check_output_file(gen_out, "--out");
      if (!models.empty()) {
        GenerateOptions g;
        g.models = parse_model_list(models);
        g.requests = requests;
        g.processes = processes;
        g.sync_requests = sync_requests;
        trace::Trace t = generate_models(g);
        if (!compare_with.empty()) {
          input = compare_with.c_str();
          const ClosedLoop c = compare_with_recording(t, trace::read_trace(compare_with));
          std::cout << "closed loop: " << c.kernels << " kernels, " << c.ctas << " CTAs, " << c.pages
                    << " (CTA, page) pairs; Jaccard min " << c.min_jaccard << " mean " << c.mean_jaccard
                    << ", " << c.ctas_below_099 << " CTAs below 0.99, " << c.pages_other_use
                    << " common pages with another first or last use or kind"
                    << (c.first_mismatch.empty() ? "" : "; first difference: " + c.first_mismatch) << "\n"
                    << "compute times (cost model against recorded resident): total " << c.generated_ms
                    << " ms against " << c.recorded_ms << " ms; per kernel median error "
                    << 100 * c.time_error_median << "%, worst " << 100 * c.time_error_worst << "% ("
                    << c.worst_time_kernel << "), " << c.kernels_over_20pct << " kernels beyond 20%\n";
        }
        trace::write_trace(t, gen_out);
        return 0;
      }
      if (pattern.empty())
        throw std::invalid_argument(
            "generate needs --pattern (a micro-workload) or --models (layer kernels); see uvmsim generate "
            "--help");
      set_micro_pattern(spec, pattern);
      spec.bytes = parse_bytes(bytes_text);
      trace::write_trace(generate_micro(spec), gen_out);
      return 0;
    }
    if (req_cmd->parsed()) {
      files::check_output_file(req_out, "--out");
      input = req_log.c_str();
      trace::write_trace(serving_recording(load_serve_spec(req_spec), req_log), req_out, 19);
      return 0;
    }
    if (conv_cmd->parsed()) {
      files::check_output_file(conv_out, "--out");
      // Recorded traces are written once and kept: compress hard.
      trace::write_trace(convert_recording(raw_dir, conv), conv_out, 19);
      return 0;
    }
    if (retime->parsed()) {
      files::check_output_file(retime_out, "--out");
      input = tpath.c_str();
      trace::write_trace(retime_recording(trace::read_trace(tpath), retime_raw), retime_out, 19);
      return 0;
    }
    if (stamp->parsed()) {
      files::check_output_file(stamp_out, "--out");
      input = tpath.c_str();
      trace::write_trace(stamp_lines(trace::read_trace(tpath), stamp_tsv), stamp_out, 19);
      return 0;
    }
    if (recode->parsed()) {
      files::check_output_file(recode_out, "--out");
      input = tpath.c_str();
      trace::Trace t = trace::read_trace(tpath);
      if (recode_gaps) std::cout << repair_split_call_gaps(t) << " host gaps of split calls cleared\n";
      trace::write_trace(t, recode_out, recode_level);
      return 0;
    }
    if (info->parsed() || dump->parsed() || exp->parsed()) {
      std::unique_ptr<OutputDir> csv;
      if (exp->parsed()) csv = std::make_unique<OutputDir>(csv_dir, "--csv", command);
      input = tpath.c_str();
      std::string hash;
      trace::Trace t = trace::read_trace(tpath, &hash);
      if (info->parsed()) trace::print_info(t, hash, std::cout);
      if (dump->parsed()) trace::print_dump(t, std::cout, max_ranges);
      if (csv) {
        csv->begin();
        trace::export_csv(t, [&](const char* name) -> std::ostream& { return csv->file(name); });
        csv->commit();
      }
      return 0;
    }
    if (pol->parsed()) {
      list_policies();
      return 0;
    }
    if (schema->parsed()) {
      print_config_schema();
      return 0;
    }
    if (stats_schema->parsed()) {
      print_stats_schema();
      return 0;
    }
    if (serve_cmd->parsed())
      return cmd_serve(serve_spec, serve_config, serve_sets, serve_out, timeline_path, timeline_window,
                       command);
    if (table->parsed()) return cmd_micro_table(config, sets, table_bytes);
    if (calib->parsed()) return run_calibrate(cal);
    if (sharing->parsed()) return run_sm_sharing(share);
    if (sweep_cmd->parsed()) return run_sweep(sweep_args) == 0 ? 0 : 3;
    if (cmp->parsed()) {
      compare_runs(compare_a, compare_b, std::cout);
      return 0;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "uvmsim: error: out of memory%s%s\n", input ? " with " : "", input ? input : "");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvmsim: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

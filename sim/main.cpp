// The uvmsim command line. Every error becomes one clear message and a non-zero exit.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cuda_tracer/convert.h"
#include "policies/eviction/eviction_policy.h"
#include "policies/prefetch/prefetch_policy.h"
#include "policies/replay/replay_policy.h"
#include "policies/thrashing/thrashing_policy.h"
#include "sim/calibrate.h"
#include "sim/run.h"
#include "sim/validate.h"
#include "sim/version.h"
#include "traces/trace_io.h"
#include "workloads/generate.h"
#include "workloads/micro.h"

using namespace uvmsim;

namespace {

template <typename Reg>
void list_policies(const char* kind) {
  const nlohmann::json defaults = to_json(Config{});
  for (auto& [name, e] : Reg::instance().entries()) {
    std::cout << std::left << std::setw(12) << kind << std::setw(14) << name << e.description << "\n";
    for (auto& p : e.params)
      std::cout << std::setw(26) << "" << "policy_params." << name << "." << p.name << " = " << p.default_value
                << ": " << p.description << "\n";
    for (auto& key : e.reads) {
      auto dot = key.find('.');
      std::cout << std::setw(26) << "" << "reads " << key << " = "
                << defaults[key.substr(0, dot)][key.substr(dot + 1)].dump() << "\n";
    }
  }
}

int cmd_run(const std::string& trace_path, const std::string& config, const std::vector<std::string>& sets,
            const std::string& out, const std::string& batch_log, bool check) {
  Config c = load_config(config, sets);
  Workload w = Workload::load(trace_path);
  std::filesystem::create_directories(out);
  std::ofstream log;
  std::string log_tmp = batch_log + ".tmp";
  if (!batch_log.empty()) {
    log.open(log_tmp);
    if (!log) throw std::runtime_error(batch_log + ": cannot open for writing");
    log << "# time_ns faults unique_pages va_blocks bytes duration_ns\n";
  }
  ProgressReporter progress;
  RunResult r = simulate(w, c, check, batch_log.empty() ? nullptr : &log, &progress);
  if (!batch_log.empty()) {
    log.close();
    std::filesystem::rename(log_tmp, batch_log);
  }
  nlohmann::json j = result_json(w, c, r.stats);
  write_file_atomic(out + "/config.json", to_json(c).dump(2) + "\n");
  write_file_atomic(out + "/stats.json", j.dump(2) + "\n");
  const Stats& s = r.stats;
  std::printf(
      "simulated %.3f ms: %llu faults in %llu batches (%.1f per batch), %.1f MiB HtoD, %.1f MiB DtoH%s\n",
      double(s.sim_time_ns) / 1e6, (unsigned long long)s.faults_fetched, (unsigned long long)s.batches,
      s.faults_per_batch.mean(), double(htod_bytes(s)) / (1 << 20), double(dtoh_bytes(s)) / (1 << 20),
      check ? "; audit passed" : "");
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
                 const std::vector<std::string>& sets, const std::string& json_out) {
  const Workload w = Workload::load(trace_path);
  // The recording's GPU and driver parameters first, then the user's overrides.
  Config c = with_recording(load_config(config, {}), w.trace);
  for (const std::string& s : sets) apply_override(c, s);
  const Validation v = validate(w, c, trace_path);
  print_validation(v, std::cout);
  if (!json_out.empty()) write_file_atomic(json_out, validation_json(v).dump(2) + "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"uvmsim: a trace-driven simulator of GPU unified memory"};
  app.set_version_flag("--version", std::string("uvmsim ") + kVersion);
  app.require_subcommand(1);

  std::string trace_path, config, out, batch_log;
  std::vector<std::string> sets;
  bool check = false;
  auto* run = app.add_subcommand("run", "simulate a trace under a config");
  run->add_option("--trace", trace_path, "trace (.uvmt)")->required();
  run->add_option("--config", config, "config JSON (built-in defaults if omitted)");
  run->add_option("--set", sets, "override a config key: a.b=value (repeatable)");
  run->add_option("--out", out, "output folder for stats.json and config.json")->required();
  run->add_option("--batch-log", batch_log, "write one line per fault batch to this file");
  run->add_flag("--check", check, "run the conservation audit at the end (fails on any inconsistency)");

  MicroSpec spec;
  std::string pattern = "seq", bytes_text = "64MiB", gen_out, models;
  auto* gen = app.add_subcommand("generate", "write a synthetic trace");
  gen->add_option("--pattern", pattern, "seq, random or strided (CTA c's thread t touches page t * CTAs + c)")
      ->check(CLI::IsMember({"seq", "random", "strided"}));
  gen->add_option("--bytes", bytes_text, "size of the managed allocation (e.g. 64MiB, 1GiB)");
  gen->add_option("--threads-per-cta", spec.threads_per_cta, "threads per CTA (one page per thread)");
  gen->add_option("--sharers", spec.sharers,
                  "CTAs touching each CTA's pages (neighbours share them: duplicate faults)");
  gen->add_flag("--host-init", spec.host_init, "the CPU writes every page first");
  gen->add_flag("--write", spec.write, "kernels write instead of read");
  gen->add_flag("--prefetch", spec.prefetch, "cudaMemPrefetchAsync to the GPU before the kernels");
  gen->add_flag("--touch-back", spec.touch_back, "the CPU reads every page after the kernels");
  gen->add_option("--seed", spec.seed, "seed of the random page order");
  uint32_t requests = 1;
  gen->add_option("--models", models,
                  "model mix, name:batch,... (alexnet, vgg16, resnet18, resnet50, mobilenet_v2, or a spec .json): "
                  "the exact accesses of workloads/'s layer kernels, one stream per model");
  gen->add_option("--requests", requests, "with --models: inferences per model, back to back")->check(CLI::PositiveNumber);
  bool processes = false;
  gen->add_flag(
      "--processes", processes,
      "with --models: each model in its own process (CUDA context), which the GPU time-slices unless "
      "gpu.timeslice_ns is 0 (MPS); without it the models share one process and the SMs");
  std::string compare_with;
  gen->add_option("--compare", compare_with,
                  "with --models: also compare with this recording of uvm_runtime (the closed loop) and print the result");
  gen->add_option("--out", gen_out, "output trace")->required();

  auto* tr = app.add_subcommand("trace", "show and convert traces");
  tr->require_subcommand(1);
  std::string tpath, csv_dir;
  uint64_t max_ranges = 16;
  auto* info = tr->add_subcommand("info", "summary of a trace");
  info->add_option("trace", tpath, "trace (.uvmt)")->required();
  auto* dump = tr->add_subcommand("dump", "every record, human-readable");
  dump->add_option("trace", tpath, "trace (.uvmt)")->required();
  dump->add_option("--max-ranges", max_ranges, "ranges shown per CTA");
  auto* exp = tr->add_subcommand("export", "export sections as CSV files");
  exp->add_option("trace", tpath, "trace (.uvmt)")->required();
  exp->add_option("--csv", csv_dir, "output folder (one CSV per section)")->required();

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

  std::string raw_dir, conv_out;
  ConvertOptions conv;
  auto* conv_cmd = tr->add_subcommand("convert", "merge a uvmtrace recording's raw passes into a trace");
  conv_cmd->add_option("--raw", raw_dir, "recording folder written by uvmtrace --out")->required();
  conv_cmd->add_option("--out", conv_out, "output trace (.uvmt)")->required();
  conv_cmd->add_option("--tenant", conv.tenant, "tenant name (default: the program's name, #0)");
  conv_cmd->add_option("--model", conv.model, "model name (default: the tenant's name)");
  conv_cmd->add_option("--batch", conv.batch, "batch size the program ran");

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

  std::string validate_json;
  auto* val = app.add_subcommand("validate", "simulate a recorded trace and compare with what the GPU did");
  val->add_option("--trace", trace_path, "recorded trace (.uvmt)")->required();
  val->add_option("--config", config,
                  "config JSON (built-in defaults if omitted); the recording's GPU and driver "
                  "parameters are applied over it");
  val->add_option("--set", sets, "override a config key: a.b=value (repeatable; applied last)");
  val->add_option("--json", validate_json, "also write the comparison as JSON");

  app.add_subcommand("policies", "list every registered policy with its parameters");
  app.add_subcommand("config-schema", "list every config key with type, unit, bounds and description");

  std::string table_bytes = "1GiB";
  auto* table = app.add_subcommand("micro-table", "the main job: micro-workloads at 100/75/50% memory");
  table->add_option("--config", config, "config JSON");
  table->add_option("--set", sets, "override a config key: a.b=value (repeatable)");
  table->add_option("--bytes", table_bytes, "size of each micro-workload");

  CalibrateArgs cal;
  auto* calib =
      app.add_subcommand("calibrate", "fit the driver's costs to H100 measurements and recorded traces");
  calib->add_option("--measurements", cal.measurements, "measured rows (JSON)")->required();
  calib->add_option("--config", cal.config, "starting config")->required();
  calib->add_option("--out", cal.out, "fitted config to write");
  calib->add_option("--report", cal.report,
                    "markdown report with measured, simulated, error and leave-one-out");
  calib->add_option("--iterations", cal.iterations, "optimiser iterations per fit");
  calib->add_flag("--leave-one-out", cal.leave_one_out, "also refit without each row and predict it");
  calib->add_option("--jobs", cal.jobs, "threads simulating rows in parallel");
  calib->add_option(
      "--traces", cal.traces,
      "recorded traces fitted too (their paging overhead and prefetch share, as uvmsim validate "
      "scores them)");
  calib->add_option("--grid", cal.grid, "structural key searched exhaustively: key=v1,v2,... (repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (run->parsed()) return cmd_run(trace_path, config, sets, out, batch_log, check);
    if (val->parsed()) return cmd_validate(trace_path, config, sets, validate_json);
    if (gen->parsed()) {
      if (!models.empty()) {
        GenerateOptions g;
        g.models = parse_model_list(models);
        g.requests = requests;
        g.processes = processes;
        trace::Trace t = generate_models(g);
        if (!compare_with.empty()) {
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
      if (processes) throw std::invalid_argument("--processes needs --models");
      set_micro_pattern(spec, pattern);
      spec.bytes = parse_bytes(bytes_text);
      trace::write_trace(generate_micro(spec), gen_out);
      return 0;
    }
    if (conv_cmd->parsed()) {
      // Recorded traces are written once and kept: compress hard.
      trace::write_trace(convert_recording(raw_dir, conv), conv_out, 19);
      return 0;
    }
    if (retime->parsed()) {
      trace::write_trace(retime_recording(trace::read_trace(tpath), retime_raw), retime_out, 19);
      return 0;
    }
    if (recode->parsed()) {
      trace::Trace t = trace::read_trace(tpath);
      if (recode_gaps) std::cout << repair_split_call_gaps(t) << " host gaps of split calls cleared\n";
      trace::write_trace(t, recode_out, recode_level);
      return 0;
    }
    if (info->parsed() || dump->parsed() || exp->parsed()) {
      std::string hash;
      trace::Trace t = trace::read_trace(tpath, &hash);
      if (info->parsed()) trace::print_info(t, hash, std::cout);
      if (dump->parsed()) trace::print_dump(t, std::cout, max_ranges);
      if (exp->parsed()) trace::export_csv(t, csv_dir);
      return 0;
    }
    if (app.got_subcommand("policies")) {
      list_policies<PrefetchRegistry>("prefetch");
      list_policies<EvictionRegistry>("eviction");
      list_policies<ReplayRegistry>("replay");
      list_policies<ThrashingRegistry>("thrashing");
      return 0;
    }
    if (app.got_subcommand("config-schema")) {
      for (auto& k : config_schema())
        std::cout << std::left << std::setw(44) << k.path << std::setw(7) << k.type << std::setw(9) << k.unit
                  << k.description << "\n";
      std::cout << std::setw(44) << "policy_params.<policy>.<param>" << std::setw(7) << "float"
                << std::setw(9) << ""
                << "a selected policy's own parameter (see uvmsim policies)\n";
      return 0;
    }
    if (table->parsed()) return cmd_micro_table(config, sets, table_bytes);
    if (calib->parsed()) return run_calibrate(cal);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvmsim: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

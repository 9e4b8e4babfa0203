// Bad input on purpose (issue 19): every case gets one clear error naming the file, offset, option or key
// and a non-zero exit; outputs never replace what is not a regular file; a killed run never leaves results
// that look like its own; memory stays bounded; simulated time never overflows. The reproducing inputs are
// in tests/data/bad/ (tests/data/bad/make_inputs.py wrote them).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "sim/cli/output_dir.h"
#include "sim/engine/progress.h"
#include "test_util.h"
#include "traces/trace_io.h"

namespace uvmsim {
namespace {

namespace fs = std::filesystem;
using testing::Result;
using testing::sh;
using testing::slurp;
using testing::source_dir;

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/hardening_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    trace_ = dir_ + "/t.uvmt";
    ASSERT_EQ(sh("generate --pattern random --bytes 16MiB --host-init --out " + trace_).status, 0);
  }
  std::string bad(const char* name) const { return source_dir() + "/tests/data/bad/" + name; }
  std::string dir_, trace_;
};

// --batch-log, generate --out, validate --json and --batch-log and trace recode --out naming a device, a
// FIFO, a symbolic link or a folder: refused before any work (nothing is simulated), and left as they were.
TEST_F(Hardening, OutputsReplaceOnlyRegularFiles) {
  const std::string fifo = dir_ + "/fifo", link = dir_ + "/link", folder = dir_ + "/folder";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  fs::create_symlink(trace_, link);
  fs::create_directories(folder);
  for (const std::string& target : {std::string("/dev/null"), fifo, link, folder}) {
    Result r = sh("run --trace " + trace_ + " --out " + dir_ + "/o --batch-log " + target);
    EXPECT_NE(r.status, 0) << target;
    EXPECT_TRUE(has(r.output, "uvmsim: error: --batch-log " + target + ": is a")) << r.output;
    EXPECT_FALSE(has(r.output, "simulated")) << r.output;
    EXPECT_FALSE(fs::exists(dir_ + "/o")) << "the output folder was made before the check";
    r = sh("generate --pattern seq --bytes 64KiB --out " + target);
    EXPECT_NE(r.status, 0) << target;
    EXPECT_TRUE(has(r.output, "--out " + target + ": is a")) << r.output;
    r = sh("trace recode " + trace_ + " --out " + target);
    EXPECT_NE(r.status, 0) << target;
  }
  struct stat st {};
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null was replaced";
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(slurp(link), slurp(trace_));
  EXPECT_TRUE(fs::is_directory(folder));
  Result r = sh("validate --trace " + source_dir() + "/traces/corpus/micro_seq_64m.uvmt --json " + fifo);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "--json " + fifo + ": is a FIFO")) << r.output;
  r = sh("validate --trace " + source_dir() + "/traces/corpus/micro_seq_64m.uvmt --batch-log " + fifo);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "--batch-log " + fifo + ": is a FIFO")) << r.output;
  r = sh("run --trace " + trace_ + " --out " + trace_);
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "is not a folder")) << r.output;
}

// An output folder holding a file uvmsim did not write is refused, and the file is kept.
TEST_F(Hardening, AnOutputFolderWithForeignFilesIsRefused) {
  fs::create_directories(dir_ + "/o");
  std::ofstream(dir_ + "/o/notes.txt") << "mine";
  Result r = sh("run --trace " + trace_ + " --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "holds 1 file(s) uvmsim did not write (" + dir_ + "/o/notes.txt)")) << r.output;
  EXPECT_EQ(slurp(dir_ + "/o/notes.txt"), "mine");
  // uvmsim's own results are replaced by the next run, and a batch log inside the folder is its own too.
  fs::remove(dir_ + "/o/notes.txt");
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + dir_ + "/o --batch-log " + dir_ + "/o/b.log").status, 0);
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + dir_ + "/o --set gpu.memory_fraction=0.5").status, 0);
  const auto m = nlohmann::json::parse(slurp(dir_ + "/o/" + OutputDir::kManifest));
  EXPECT_EQ(m["state"], "complete");
  EXPECT_EQ(m["files"], nlohmann::json({"config.json", "stats.json"}));
  EXPECT_FALSE(fs::exists(dir_ + "/o/b.log"));
  EXPECT_FALSE(fs::exists(dir_ + "/o/previous"));
}

// A run that fails after it began (here at engine.max_events, 50 events of about 170) restores the previous
// results as they were.
TEST_F(Hardening, AFailedRunRestoresThePreviousResults) {
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + dir_ + "/o").status, 0);
  const std::string before = slurp(dir_ + "/o/stats.json");
  Result r = sh("run --trace " + trace_ + " --out " + dir_ + "/o --set engine.max_events=50");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "engine.max_events")) << r.output;
  EXPECT_TRUE(slurp(dir_ + "/o/stats.json") == before);
  EXPECT_FALSE(fs::exists(dir_ + "/o/previous"));
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ + "/o/" + OutputDir::kManifest))["state"], "complete");
}

// A run killed midway (SIGKILL: no destructor runs) leaves no stats.json that could be taken for its own:
// the previous results wait in previous/, the manifest says a run was under way, and the next run
// completes normally and removes them.
TEST_F(Hardening, AKilledRunLeavesNoResultThatLooksLikeItsOwn) {
  const std::string out = dir_ + "/o";
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + out).status, 0);
  const std::string before = slurp(out + "/stats.json");
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    OutputDir d(out, "--out", "killed run");
    d.begin();
    d.file("stats.json") << "{\"half\": ";  // staged, half written
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(fs::exists(out + "/stats.json"));
  EXPECT_EQ(slurp(out + "/previous/stats.json"), before);
  const auto m = nlohmann::json::parse(slurp(out + "/" + OutputDir::kManifest));
  EXPECT_EQ(m["state"], "running");
  EXPECT_EQ(m["command"], "killed run");
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + out + " --set gpu.memory_fraction=0.5").status, 0);
  EXPECT_FALSE(fs::exists(out + "/previous"));
  EXPECT_NE(slurp(out + "/stats.json"), before);
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_FALSE(has(e.path().filename().string(), "uvmsim-tmp")) << e.path();
}

// The reader bounds what it decompresses: 67 KB declaring 2 GiB or 16 GiB of zeros fail at the header,
// naming the option that raises each cap; non-regular files are refused; errors name the path.
TEST_F(Hardening, TheReaderBoundsMemoryAndNamesThePath) {
  Result r = sh("trace info " + bad("zeros_2gib.uvmt"));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "zeros_2gib.uvmt: offset 16 (file): declared body size 2147483648")) << r.output;
  EXPECT_TRUE(has(r.output, "--max-trace-ratio")) << r.output;
  r = sh("--max-trace-ratio 1000000 --max-trace-bytes 1GiB trace info " + bad("zeros_16gib.uvmt"));
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "--max-trace-bytes")) << r.output;
  r = sh("run --trace /dev/zero --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "uvmsim: error: /dev/zero: is a character device, not a regular file"))
      << r.output;
  r = sh("run --trace " + dir_ + " --out " + dir_ + "/o");
  EXPECT_TRUE(has(r.output, "uvmsim: error: " + dir_ + ": is a directory, not a regular file")) << r.output;
  r = sh("run --trace " + dir_ + "/missing.uvmt --out " + dir_ + "/o");
  EXPECT_TRUE(has(r.output, dir_ + "/missing.uvmt: cannot open: No such file or directory")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/o"));
  trace::ReadLimits tight;
  tight.max_ratio = 1;
  EXPECT_THROW(trace::read_trace(bad("zeros_2gib.uvmt"), tight), trace::TraceError);
}

// Format-valid extreme values are refused by the reader with their offset: a resident time near 2^63 and a
// host gap of INT64_MAX ran to a negative simulated time before.
TEST_F(Hardening, ExtremeTimesAreRefusedWithTheirOffset) {
  Result r = sh("run --trace " + bad("huge_resident.uvmt") + " --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "huge_resident.uvmt: offset 527 (decompressed body): kernel 0 resident time"))
      << r.output;
  r = sh("run --trace " + bad("huge_host_gap.uvmt") + " --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "huge_host_gap.uvmt: offset 816 (decompressed body): op 0 host gap")) << r.output;
}

// At the bounds the reader allows, the simulator's clock cannot overflow: 5000 host gaps of 2^50 ns add up
// past 2^62 ns, and the run stops with an error saying so (under UBSan in the sanitizer build) instead of
// wrapping to a negative time.
TEST_F(Hardening, TimesAtTheReadersBoundsStopBeforeOverflowing) {
  trace::Trace t = testing::base_trace(2 << 20);
  testing::add_kernel(t, {{0}}, trace::AccessKind::kRead, uint64_t(trace::kMaxDurationNs), 32);
  for (int i = 0; i < 5000; ++i) {
    testing::add_sync(t);
    t.ops.back().host_gap_ns = trace::kMaxDurationNs;
  }
  const Workload w = Workload::build(t, "gaps");
  try {
    simulate(w, Config{}, true);
    ADD_FAILURE() << "no error";
  } catch (const std::overflow_error& e) {
    EXPECT_TRUE(has(e.what(), "beyond 2^62 ns")) << e.what();
  }
  t.ops.resize(3);  // a few such gaps simulate, with a positive time
  EXPECT_GT(testing::run(t).sim_time_ns, 2 * trace::kMaxDurationNs);
}

// The body hash is FNV-1a 64 as FORMAT.md documents (the published test vectors); a file written by another
// program from the document reads; traces of versions 1 and 2 (the old seed) still read.
TEST_F(Hardening, TheBodyHashIsFnv1aAsDocumented) {
  auto h = [](const std::string& s) {
    return trace::fnv1a64(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(h(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(h("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(h("foobar"), 0x85944171f73967e8ull);
  std::string hash;
  const trace::Trace t = trace::read_trace(bad("third_party_v3.uvmt"), &hash);
  EXPECT_EQ(t.header.format_version, 3u);
  EXPECT_EQ(t.kernels.size(), 2u);  // the micro-workload's touch and touch_again
  EXPECT_EQ(trace::read_trace(source_dir() + "/traces/corpus/gemm_tiled_1024.uvmt").header.format_version,
            2u);
  EXPECT_EQ(trace::read_trace(source_dir() + "/tests/data/v1_gemm_tiled_1024.uvmt").header.format_version,
            1u);
}

// The two-process trace with a time slice shorter than a context switch (2081 typed for 2081 us) is a
// config error naming the key, before anything runs; it used to never end.
TEST_F(Hardening, ATimeSliceShorterThanASwitchIsAConfigError) {
  Result r =
      sh("run --trace " + source_dir() + "/traces/corpus/torch_2proc_resnet18_b1_mobilenet_v2_b1.uvmt " +
         "--set gpu.timeslice_ns=2081 --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "config key 'gpu.timeslice_ns'")) << r.output;
}

// A quantity the GPU observed as 0 is never scored against it relatively: the CPU faults of AlexNet b1
// (observed 0, simulated 2) read as an absolute error.
TEST_F(Hardening, ValidateNeverReportsARelativeErrorAgainstZero) {
  Result r = sh("validate --trace " + source_dir() + "/traces/corpus/torch_alexnet_b1.uvmt --config " +
                source_dir() + "/sim/configs/h100.json --json " + dir_ + "/v.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(slurp(dir_ + "/v.json"));
  bool seen = false;
  for (const auto& q : j["quantities"]) {
    if (!q["scored"] || q["observed"] != 0.0) continue;
    EXPECT_FALSE(q.contains("error")) << q.dump();
    EXPECT_TRUE(q.contains("error_absolute")) << q.dump();
    seen |= q["key"] == "cpu_faults";
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(has(r.output, "abs")) << r.output;
}

// The command line: missing and contradictory options are errors; limits name themselves; every
// subcommand's help shows defaults and an example; the schemas print bounds, defaults and units.
TEST_F(Hardening, TheCommandLineRefusesNonsenseAndExplainsItself) {
  Result r = sh("generate --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "needs --pattern")) << r.output;
  r = sh("generate --pattern seq --models resnet18:1 --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "--pattern excludes --models")) << r.output;
  r = sh("generate --processes --pattern seq --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  r = sh("generate --models resnet50:100000 --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "limit of 128")) << r.output;
  r = sh("generate --models resnet50:128,vgg16:128,alexnet:1 --out " + dir_ + "/x.uvmt");
  EXPECT_TRUE(has(r.output, "limit of 256")) << r.output;
  r = sh("generate --models resnet50:1 --requests 65537 --out " + dir_ + "/x.uvmt");
  EXPECT_TRUE(has(r.output, "limit of 65536")) << r.output;
  r = sh("generate --models resnet50:1 --requests 0 --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_TRUE(has(r.output, "--requests: must be at least 1")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ + "/x.uvmt"));
  for (const char* sub : {"run", "generate", "validate", "calibrate", "micro-table", "policies",
                          "config-schema", "stats-schema", "trace info", "trace dump", "trace export",
                          "trace convert", "trace recode", "trace retime"}) {
    r = sh(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_TRUE(has(r.output, "Example")) << sub << ": " << r.output;
  }
  EXPECT_TRUE(has(sh("generate --help").output, "--bytes TEXT=64MiB"));
  r = sh("config-schema");
  EXPECT_TRUE(has(r.output, "[1, 4096]")) << r.output;
  EXPECT_TRUE(has(r.output, "132")) << r.output;  // gpu.sm_count's default
  // stats-schema lists every statistic a run writes.
  ASSERT_EQ(sh("run --trace " + trace_ + " --out " + dir_ + "/o").status, 0);
  const std::string schema = sh("stats-schema").output;
  const auto stats = nlohmann::json::parse(slurp(dir_ + "/o/stats.json"))["stats"];
  for (auto it = stats.begin(); it != stats.end(); ++it) {
    std::string name = it.key();
    if (name == "bytes_htod" || name == "bytes_dtoh") name += ".<cause>";
    if (name == "kernels" || name == "ops") name += "[].";
    EXPECT_TRUE(has(schema, "\n" + name)) << name;
  }
}

// A long run shows its progress on a terminal, rewriting one line, and leaves a clean line behind.
TEST(Progress, ALongRunShowsProgressOnATerminalOnly) {
  std::FILE* f = std::tmpfile();
  {
    ProgressReporter p(f, true);
    p.update("first");  // within a second of the start: not shown
    ::usleep(1100000);
    p.update("simulated 5 ms");
  }
  std::rewind(f);
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  const std::string s(buf, n);
  EXPECT_FALSE(has(s, "first"));
  EXPECT_TRUE(has(s, "simulated 5 ms"));
  EXPECT_TRUE(has(s, "\r\033[K"));
  std::fclose(f);
  std::FILE* g = std::tmpfile();
  ProgressReporter quiet(g);  // a file is not a terminal
  EXPECT_FALSE(quiet.active());
  std::fclose(g);
}

}  // namespace
}  // namespace uvmsim

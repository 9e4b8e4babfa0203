// Ops beyond kernels and host accesses: cross-stream event waits, advice, memset, memcpy and frees.
#include <gtest/gtest.h>

#include "test_util.h"

namespace uvmsim {
namespace {

using namespace testing;

TEST(HostOps, CrossStreamEventWaitOrdersKernels) {
  trace::Trace t = base_trace(4 << 20);
  add_kernel(t, {{0}}, trace::AccessKind::kRead, 50000);  // stream 0
  trace::Op rec;
  rec.kind = trace::OpKind::kEventRecord;
  rec.c = 7;
  t.ops.push_back(rec);
  add_kernel(t, {{600}}, trace::AccessKind::kRead, 1000);  // stream 1: independent of kernel 0
  t.kernels[1].stream = t.ops.back().stream = 1;
  trace::Op wait;
  wait.kind = trace::OpKind::kEventWait;
  wait.stream = 1;
  wait.c = 7;
  t.ops.push_back(wait);
  add_kernel(t, {{601}}, trace::AccessKind::kRead, 1000);  // stream 1, after the wait
  t.kernels[2].stream = t.ops.back().stream = 1;
  add_sync(t);
  Stats s = run(t);
  EXPECT_LT(s.kernels[1].start_ns, s.kernels[0].end_ns);   // streams run concurrently
  EXPECT_GE(s.kernels[2].start_ns, s.kernels[0].end_ns);   // the wait holds stream 1 until the event
}

TEST(HostOps, PreferredLocationBringsTheWholeBlockOnFirstTouch) {
  trace::Trace t = base_trace(4 << 20);
  add_op(t, trace::OpKind::kAdvise, 512, 512, trace::AccessKind::kRead, 0);
  t.ops.back().c = uint64_t(trace::Advice::kSetPreferredLocation);
  add_kernel(t, {{0}, {512}});
  add_sync(t);
  Stats s = run(t);
  EXPECT_EQ(s.bytes_zero_filled, (64u << 10) + (2u << 20));  // a big page of block 0, all of block 1
}

TEST(HostOps, MemsetFreeAndMemcpy) {
  trace::Trace t = base_trace(4 << 20);
  t.allocations.push_back({0, trace::AllocKind::kDevice, trace::AllocRole::kWorkspace, kVa + (64 << 20), 1 << 20, 0,
                           -1, "plain"});
  add_op(t, trace::OpKind::kMemset, 0, 256);  // 1 MiB of managed memory, on the GPU
  trace::Op cp;
  cp.kind = trace::OpKind::kMemcpy;
  cp.device = 0;  // HtoD
  cp.a = kVa + (64 << 20);
  cp.b = 1 << 20;
  t.ops.push_back(cp);
  add_sync(t);
  trace::Op fr;
  fr.kind = trace::OpKind::kFree;
  fr.a = 0;
  t.ops.push_back(fr);
  Stats s = run(t);
  EXPECT_EQ(s.bytes_zero_filled, 1u << 20);
  EXPECT_EQ(s.bytes_freed_on_gpu, 1u << 20);
  EXPECT_GT(s.ops[1].end_ns - s.ops[1].start_ns, 20000);  // 1 MiB over PCIe takes tens of microseconds
  EXPECT_GE(s.ops[3].end_ns, s.ops[1].end_ns);             // the free waited for the streams
}

}  // namespace
}  // namespace uvmsim

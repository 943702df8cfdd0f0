// DPDK EAL for test and benchmark binaries.
//
// Tests that need the EAL (rte_malloc, rte_hash, rte_rcu_qsbr, ...) call
// init_eal() first, e.g. from a fixture's SetUpTestSuite:
//
//   static void SetUpTestSuite() { ASSERT_TRUE(tcpsec::testing::init_eal()); }
//
// and benchmarks call it at the top of main(). The process gets no
// hugepages (-m 2048 of ordinary memory), no PCI devices, one lcore and a
// file prefix of its own, so test binaries may run in parallel.
#pragma once

#include "common/status.h"

namespace tcpsec::testing {

// Initialises the EAL once per process. Safe to call repeatedly and from
// several threads: every call returns the first call's result (the EAL can
// not be initialised twice).
Status init_eal();

// rte_eal_init pins the calling (main) thread to its one lcore, and a
// std::thread inherits that mask: a test's extra threads would all share
// one CPU. Call this at the top of such a thread to let it run on any CPU
// the process may use.
void unpin_this_thread();

}  // namespace tcpsec::testing

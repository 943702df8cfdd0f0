#include "tests/support/eal_environment.h"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tcpsec::testing {
namespace {

// The CPUs this process may use, as first seen (init_eal reads it before
// the EAL pins the main thread).
const cpu_set_t& startup_cpus() {
  static const cpu_set_t cpus = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &set);
    }
    return set;
  }();
  return cpus;
}

// The first CPU this process may run on (usually 0), so that "-l" never
// names a CPU outside the affinity mask of a restricted container.
int first_allowed_cpu() {
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &startup_cpus())) return cpu;
  }
  return 0;
}

Status do_init() {
  // rte_eal_init may keep pointers into argv: these strings live as long as
  // the process.
  static std::vector<std::string> args = {
      "tcpsec-test",
      "--no-huge",
      "-m",
      "2048",
      "--no-pci",
      "--no-telemetry",
      // No config file, fbarray files (25 MB) or IPC socket under
      // /var/run/dpdk: test processes have no secondaries.
      "--no-shconf",
      "--file-prefix=tcpsec-test-" + std::to_string(getpid()),
      "--log-level=*:error",
      "-l",
      std::to_string(first_allowed_cpu()),
  };
  static std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    return Status::error(std::string("rte_eal_init (--no-huge -m 2048 --no-pci) failed: ") +
                         rte_strerror(rte_errno));
  }
  // The EAL leaves its (here empty) runtime directory behind: one per test
  // process would pile up in /var/run/dpdk. rmdir does nothing if not empty.
  static char runtime_dir[4096];
  std::strncpy(runtime_dir, rte_eal_get_runtime_dir(), sizeof(runtime_dir) - 1);
  std::atexit([] { rmdir(runtime_dir); });
  return Status::ok();
}

}  // namespace

Status init_eal() {
  static const Status status = do_init();
  return status;
}

void unpin_this_thread() {
  pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &startup_cpus());
}

}  // namespace tcpsec::testing

// tcpsec-dataplane: parses the configuration, builds the gateway's objects,
// launches the worker lcores and reports final counters on shutdown.
#include <getopt.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "dataplane/config/config_loader.h"
#include "dataplane/pipeline/gateway.h"
#include "dataplane/pipeline/worker.h"
#include "dataplane/port/mbuf_sizing.h"
#include "dataplane/port/port_setup.h"
#include "dataplane/rpc/dataplane_service.h"
#include "dataplane/rpc/event_source.h"

namespace {

using tcpsec::Counter;
using tcpsec::DropReason;

// The one piece of process-wide state: a signal handler can reach nothing else.
std::atomic<bool> g_signalled{false};
void on_signal(int) {
  g_signalled.store(true);
}

struct Options {
  std::string config_path;
  double duration_s = 0;  // 0: until SIGINT/SIGTERM
  std::string counters_json;
  std::string rpc_socket;  // overrides rpc.unix_socket of the config
  bool check_only = false;
};

void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --config FILE [--duration SECONDS] [--counters-json FILE] "
               "[--rpc-socket PATH] [--check]\n"
               "  --config FILE        dataplane configuration (text proto, or .json)\n"
               "  --duration SECONDS   stop after this long (default: until SIGINT/SIGTERM)\n"
               "  --counters-json FILE write final counters there as JSON\n"
               "  --rpc-socket PATH    serve the Dataplane gRPC service there (overrides\n"
               "                       rpc.unix_socket of the configuration)\n"
               "  --check              validate the configuration and exit\n",
               argv0);
}

bool parse_options(int argc, char** argv, Options& o) {
  static const option longopts[] = {{"config", required_argument, nullptr, 'c'},
                                    {"duration", required_argument, nullptr, 'd'},
                                    {"counters-json", required_argument, nullptr, 'j'},
                                    {"rpc-socket", required_argument, nullptr, 'r'},
                                    {"check", no_argument, nullptr, 'k'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "c:d:j:r:kh", longopts, nullptr)) != -1) {
    switch (c) {
      case 'c':
        o.config_path = optarg;
        break;
      case 'd':
        o.duration_s = std::atof(optarg);
        break;
      case 'j':
        o.counters_json = optarg;
        break;
      case 'r':
        o.rpc_socket = optarg;
        break;
      case 'k':
        o.check_only = true;
        break;
      default:
        return false;
    }
  }
  return !o.config_path.empty();
}

struct Totals {
  tcpsec::Counters counters;
  tcpsec::DropCounters drops;
};

Totals sum(const std::vector<std::unique_ptr<tcpsec::pipeline::Worker>>& workers) {
  Totals t;
  for (const auto& w : workers) {
    for (size_t i = 0; i < t.counters.count.size(); ++i)
      t.counters.count[i] += w->counters().count[i];
    for (size_t i = 0; i < t.drops.count.size(); ++i) t.drops.count[i] += w->drops().count[i];
  }
  return t;
}

// elapsed_s: from the workers' launch until they all returned (the window
// the counters cover, start-up excluded); tsc_hz: the worker cores' TSC rate.
void report(const std::vector<std::unique_ptr<tcpsec::pipeline::Worker>>& workers,
            const tcpsec::pipeline::Gateway& gw, double elapsed_s, const std::string& json_path) {
  const Totals t = sum(workers);
  std::string json = "{\n  \"elapsed_s\": " + std::to_string(elapsed_s) +
                     ",\n  \"tsc_hz\": " + std::to_string(rte_get_tsc_hz()) +
                     ",\n  \"counters\": {";
  const char* sep = "";
  std::printf("final counters:\n");
  for (size_t i = 0; i < t.counters.count.size(); ++i) {
    uint64_t v = t.counters.count[i];
    if (v) std::printf("  %-32s %lu\n", std::string(tcpsec::kCounterNames[i]).c_str(), v);
    json += std::string(sep) + "\n    \"" + std::string(tcpsec::kCounterNames[i]) +
            "\": " + std::to_string(v);
    sep = ",";
  }
  json += "\n  },\n  \"drops\": {";
  sep = "";
  std::printf("final drops:\n");
  for (size_t i = 1; i < t.drops.count.size(); ++i) {
    uint64_t v = t.drops.count[i];
    if (v) std::printf("  %-32s %lu\n", std::string(tcpsec::kDropReasonNames[i]).c_str(), v);
    json += std::string(sep) + "\n    \"" + std::string(tcpsec::kDropReasonNames[i]) +
            "\": " + std::to_string(v);
    sep = ",";
  }
  json += "\n  },\n  \"ports\": {";
  sep = "";
  for (const auto& itf : gw.interfaces()) {
    rte_eth_stats st{};
    rte_eth_stats_get(itf.port_id, &st);
    std::printf("port %s: rx %lu tx %lu rx_missed %lu tx_errors %lu\n", itf.name.c_str(),
                st.ipackets, st.opackets, st.imissed, st.oerrors);
    json += std::string(sep) + "\n    \"" + itf.name +
            "\": {\"rx\": " + std::to_string(st.ipackets) +
            ", \"tx\": " + std::to_string(st.opackets) + "}";
    sep = ",";
  }
  // Per worker, the packets it received and encapsulated/decapsulated: shows
  // how RSS spread the load.
  json += "\n  },\n  \"workers\": [";
  sep = "";
  for (const auto& w : workers) {
    const auto& c = w->counters();
    json += std::string(sep) +
            "\n    {\"rx_packets\": " + std::to_string(c.get(Counter::kRxPackets)) +
            ", \"ctcp_encap\": " +
            std::to_string(c.get(Counter::kCtcpEncapIke) + c.get(Counter::kCtcpEncapEsp)) +
            ", \"ctcp_decap\": " +
            std::to_string(c.get(Counter::kCtcpDecapIke) + c.get(Counter::kCtcpDecapEsp)) + "}";
    sep = ",";
  }
  json += "\n  ],\n  \"connections\": " +
          std::to_string(const_cast<tcpsec::pipeline::Gateway&>(gw).connections().size()) + "\n}\n";
  std::fflush(stdout);
  if (!json_path.empty()) std::ofstream(json_path) << json;
}

int lcore_main(void* arg) {
  static_cast<tcpsec::pipeline::Worker*>(arg)->run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!parse_options(argc, argv, opt)) {
    usage(argv[0]);
    return 2;
  }
  auto loaded = tcpsec::config::load_dataplane_config(opt.config_path);
  if (!loaded) {
    std::fprintf(stderr, "tcpsec-dataplane: %s\n", loaded.error().c_str());
    return 2;
  }
  if (auto s = tcpsec::config::validate_dataplane_config(*loaded); !s) {
    std::fprintf(stderr, "tcpsec-dataplane: %s: %s\n", opt.config_path.c_str(),
                 s.message().c_str());
    return 2;
  }
  tcpsec::v1::DataplaneConfig config = tcpsec::config::with_defaults(*loaded);
  if (opt.check_only) {
    std::printf("%s: ok\n", opt.config_path.c_str());
    return 0;
  }

  auto eal_args = tcpsec::port::eal_arguments(config, argv[0]);
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "tcpsec-dataplane: EAL init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  unsigned n_workers = config.workers().count();
  if (rte_lcore_count() < n_workers + 1) {
    std::fprintf(stderr, "tcpsec-dataplane: %u workers need %u lcores (main + workers), have %u\n",
                 n_workers, n_workers + 1, rte_lcore_count());
    rte_eal_cleanup();
    return 1;
  }
  uint32_t max_mtu = 0;
  for (const auto& p : config.ports()) max_mtu = std::max(max_mtu, p.mtu());
  const unsigned n_mbufs = config.buffers().mbufs();
  const uint16_t data_room = tcpsec::port::mbuf_data_room(max_mtu);
  rte_mempool* pool = rte_pktmbuf_pool_create("mbufs", n_mbufs, 256, 0, data_room,
                                              static_cast<int>(rte_socket_id()));
  if (!pool) {
    // Jumbo MTUs and large pools need hundreds of MB: say what was asked for.
    std::fprintf(stderr,
                 "tcpsec-dataplane: mbuf pool of %u buffers (buffers.mbufs) of %u bytes (largest "
                 "port MTU %u): %s (raise eal.memory_mb)\n",
                 n_mbufs, unsigned{data_room}, max_mtu ? max_mtu : 1500u, rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 1;
  }

  std::vector<tcpsec::pipeline::Interface> interfaces;
  for (const auto& p : config.ports()) {
    auto itf = tcpsec::port::setup_port(p, pool, static_cast<uint16_t>(n_workers));
    if (!itf) {
      std::fprintf(stderr, "tcpsec-dataplane: %s\n", itf.error().c_str());
      rte_eal_cleanup();
      return 1;
    }
    std::printf("port %s: dpdk port %u mac %s mtu %u\n", itf->name.c_str(), itf->port_id,
                itf->mac.to_string().c_str(), itf->mtu);
    interfaces.push_back(std::move(*itf));
  }
  auto gateway = tcpsec::pipeline::Gateway::create(config, interfaces, pool, n_workers);
  if (!gateway) {
    std::fprintf(stderr, "tcpsec-dataplane: %s\n", gateway.error().c_str());
    rte_eal_cleanup();
    return 1;
  }
  tcpsec::pipeline::Gateway& gw = **gateway;
  // The configuration's SAs, policies and connections, through the same
  // all-or-nothing path as the control plane's changes.
  auto store = std::make_unique<tcpsec::pipeline::StateStore>(gw);
  if (auto s = store->load(config); !s) {
    std::fprintf(stderr, "tcpsec-dataplane: %s\n", s.message().c_str());
    return 1;
  }

  // RX queues go round-robin to the workers; worker i transmits on queue i.
  std::vector<tcpsec::pipeline::WorkerOptions> wopts(n_workers);
  unsigned next = 0;
  for (const auto& itf : gw.interfaces()) {
    for (uint16_t q = 0; q < itf.rx_queues; ++q)
      wopts[next++ % n_workers].rx.push_back({itf.port_id, q});
  }
  std::vector<std::unique_ptr<tcpsec::pipeline::Worker>> workers;
  for (unsigned i = 0; i < n_workers; ++i) {
    wopts[i].index = i;
    wopts[i].burst = static_cast<uint16_t>(config.workers().burst_size());
    wopts[i].idle_sleep_us = config.workers().idle_sleep_us();
    wopts[i].run_timers = i == 0;
    wopts[i].plain_forward = config.workers().plain_forward();
    workers.push_back(std::make_unique<tcpsec::pipeline::Worker>(gw, wopts[i]));
    if (auto s = workers.back()->init(); !s) {
      std::fprintf(stderr, "tcpsec-dataplane: %s\n", s.message().c_str());
      return 1;
    }
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto launched = std::chrono::steady_clock::now();
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  for (unsigned i = 0; i < n_workers; ++i, lcore = rte_get_next_lcore(lcore, 1, 0)) {
    rte_eal_remote_launch(lcore_main, workers[i].get(), lcore);
  }
  // The gRPC server runs while the workers do: up before "running" is
  // printed (tests wait for it), down before the workers stop.
  int rc = 0;
  std::unique_ptr<tcpsec::rpc::DataplaneServer> rpc_server;
  const std::string rpc_socket =
      opt.rpc_socket.empty() ? config.rpc().unix_socket() : opt.rpc_socket;
  if (!rpc_socket.empty()) {
    auto server = tcpsec::rpc::DataplaneServer::start(rpc_socket, gw, *store, workers, launched);
    if (server) {
      rpc_server = std::move(*server);
      std::printf("tcpsec-dataplane: rpc on unix:%s\n", rpc_socket.c_str());
    } else {
      std::fprintf(stderr, "tcpsec-dataplane: %s\n", server.error().c_str());
      rc = 1;
    }
  }
  if (rc == 0) std::printf("tcpsec-dataplane: running %u worker(s)\n", n_workers);
  std::fflush(stdout);

  auto start = std::chrono::steady_clock::now();
  const uint64_t launched_tsc =
      rte_rdtsc() - static_cast<uint64_t>(std::chrono::duration<double>(start - launched).count() *
                                          static_cast<double>(gw.tsc_hz()));
  while (rc == 0 && !g_signalled.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // Connection events and SA lifetimes: logged, and to WatchEvents.
    for (const auto& e : tcpsec::rpc::collect_events(gw, *store, launched_tsc)) {
      std::fprintf(stderr, "%s\n", tcpsec::rpc::describe_event(e).c_str());
      if (rpc_server) rpc_server->publish(e);
    }
    if (opt.duration_s > 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::duration<double>(opt.duration_s)) {
      break;
    }
  }
  if (rpc_server) rpc_server->shutdown();
  rpc_server.reset();
  gw.stop().store(true);
  rte_eal_mp_wait_lcore();
  double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - launched).count();
  report(workers, gw, elapsed_s, opt.counters_json);
  workers.clear();
  for (const auto& itf : gw.interfaces()) tcpsec::port::stop_port(itf.port_id);
  store.reset();
  gateway = tcpsec::Status::error("shut down");  // destroy tables before the EAL goes
  rte_eal_cleanup();
  return rc;
}

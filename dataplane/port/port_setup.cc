#include "dataplane/port/port_setup.h"

#include <rte_ethdev.h>

#include <sched.h>

#include <algorithm>
#include <cstdio>

namespace tcpsec::port {

namespace {

bool has_arg(const v1::DataplaneConfig& config, std::initializer_list<std::string_view> names) {
  for (const auto& a : config.eal().args()) {
    for (auto n : names) {
      if (a == n || a.rfind(std::string(n) + "=", 0) == 0) return true;
    }
  }
  return false;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

std::string device_name(const v1::Port& port) {
  if (port.has_vdev()) return port.vdev().substr(0, port.vdev().find(','));
  return port.pci();
}

pipeline::PortRole role_of(v1::PortRole r) {
  switch (r) {
    case v1::PORT_ROLE_PROTECTED:
      return pipeline::PortRole::kProtected;
    case v1::PORT_ROLE_LOCAL:
      return pipeline::PortRole::kLocal;
    default:
      return pipeline::PortRole::kPublic;
  }
}

}  // namespace

std::vector<std::string> eal_arguments(const v1::DataplaneConfig& config,
                                       const std::string& argv0) {
  std::vector<std::string> args{argv0};
  const auto& eal = config.eal();
  if (!has_arg(config, {"-l", "--lcores", "-c"})) {
    // The main lcore supervises; one lcore per worker after it, each on its
    // own CPU where there are enough (else they share, round robin: fine for
    // tests with idle back-off, not for production).
    std::vector<int> cpus = allowed_cpus();
    unsigned lcores = std::max(1u, config.workers().count()) + 1;
    std::string map;
    for (unsigned i = 0; i < lcores; ++i) {
      // Worker lcores take distinct CPUs first; the supervisor shares the last.
      int cpu = cpus[(i == 0 ? lcores - 1 : i - 1) % cpus.size()];
      map += (i ? "," : "") + std::to_string(i) + "@" + std::to_string(cpu);
    }
    args.push_back("--lcores=" + map);
  }
  args.push_back("--file-prefix=" + (eal.file_prefix().empty() ? "tcpsec" : eal.file_prefix()));
  if (eal.memory_mb() != 0) args.push_back("-m" + std::to_string(eal.memory_mb()));
  if (eal.no_huge()) args.push_back("--no-huge");
  if (eal.no_pci()) args.push_back("--no-pci");
  for (const auto& p : config.ports()) {
    if (p.has_vdev()) args.push_back("--vdev=" + p.vdev());
    if (p.has_pci()) args.push_back("-a" + p.pci());
  }
  for (const auto& a : eal.args()) args.push_back(a);
  return args;
}

Expected<pipeline::Interface> setup_port(const v1::Port& cfg, rte_mempool* pool,
                                         uint16_t tx_queues) {
  std::string where = "port '" + cfg.name() + "'";
  std::string dev = device_name(cfg);
  uint16_t port_id;
  if (rte_eth_dev_get_port_by_name(dev.c_str(), &port_id) != 0) {
    return Status::error(where + ": no DPDK device named '" + dev +
                         "' (check the vdev/pci string)");
  }
  rte_eth_dev_info info;
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) {
    return Status::error(where + ": rte_eth_dev_info_get: " + rte_strerror(-rc));
  }
  uint16_t rxq = static_cast<uint16_t>(std::max(1u, cfg.rx_queues()));
  uint16_t txq = std::max<uint16_t>(tx_queues, static_cast<uint16_t>(cfg.tx_queues()));
  if (rxq > info.max_rx_queues || txq > info.max_tx_queues) {
    return Status::error(where + ": device supports " + std::to_string(info.max_rx_queues) +
                         " RX / " + std::to_string(info.max_tx_queues) + " TX queues, need " +
                         std::to_string(rxq) + " / " + std::to_string(txq));
  }
  rte_eth_conf conf{};
  if (rxq > 1) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (int rc = rte_eth_dev_configure(port_id, rxq, txq, &conf); rc != 0) {
    return Status::error(where + ": rte_eth_dev_configure: " + rte_strerror(-rc));
  }
  uint16_t nb_rxd = static_cast<uint16_t>(cfg.rx_descriptors() ? cfg.rx_descriptors() : 1024);
  uint16_t nb_txd = static_cast<uint16_t>(cfg.tx_descriptors() ? cfg.tx_descriptors() : 1024);
  rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rxd, &nb_txd);
  int socket = rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < rxq; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port_id, q, nb_rxd, socket, nullptr, pool); rc != 0) {
      return Status::error(where + ": RX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
    }
  }
  for (uint16_t q = 0; q < txq; ++q) {
    if (int rc = rte_eth_tx_queue_setup(port_id, q, nb_txd, socket, nullptr); rc != 0) {
      return Status::error(where + ": TX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
    }
  }

  pipeline::Interface itf;
  itf.port_id = port_id;
  itf.name = cfg.name();
  itf.role = role_of(cfg.role());
  itf.mtu = static_cast<uint16_t>(cfg.mtu() ? cfg.mtu() : 1500);
  itf.rx_queues = rxq;
  itf.tx_queues = txq;
  if (!cfg.mac().empty()) {
    auto mac = net::MacAddress::parse(cfg.mac());
    if (!mac) return Status::error(where + ".mac: " + mac.error());
    itf.mac = *mac;
    rte_ether_addr a;
    std::copy(mac->bytes.begin(), mac->bytes.end(), a.addr_bytes);
    rte_eth_dev_default_mac_addr_set(port_id, &a);  // best effort: the software MAC rules
  } else {
    rte_ether_addr a;
    rte_eth_macaddr_get(port_id, &a);
    std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), itf.mac.bytes.begin());
  }
  for (int i = 0; i < cfg.addresses_size(); ++i) {
    auto p = net::IpPrefix::parse(cfg.addresses(i));
    if (!p) return Status::error(where + ".addresses[" + std::to_string(i) + "]: " + p.error());
    itf.addresses.push_back(*p);
  }
  // The MTU is enforced in software; the device is asked too where it can
  // (-ENOTSUP: nothing to set). A refusal is not fatal: some devices take
  // larger frames when set up outside DPDK (22.11's net_af_packet reports a
  // 1518-byte maximum, yet receives what its interface MTU and framesz=
  // allow), but the operator is told, since others would drop them.
  if (int rc = rte_eth_dev_set_mtu(port_id, itf.mtu); rc != 0 && rc != -ENOTSUP) {
    std::fprintf(stderr,
                 "tcpsec-dataplane: warning: %s.mtu: the device refuses %u (%s; its largest "
                 "frame is %u bytes): larger frames arrive only if the device is set up for "
                 "them outside DPDK (net_af_packet: the interface MTU and framesz=)\n",
                 where.c_str(), unsigned{itf.mtu}, rte_strerror(-rc), info.max_rx_pktlen);
  }
  if (int rc = rte_eth_dev_start(port_id); rc != 0) {
    return Status::error(where + ": rte_eth_dev_start: " + rte_strerror(-rc));
  }
  rte_eth_promiscuous_enable(port_id);
  return itf;
}

void stop_port(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

}  // namespace tcpsec::port

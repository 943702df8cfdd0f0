// Gateway: the state every lcore shares, built once by main from a validated
// configuration. Workers read it; what changes at runtime (connections,
// neighbours) lives in tables that are safe for concurrent readers.
#pragma once

#include <rte_mempool.h>

#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "dataplane/ctcp/connection_table.h"
#include "dataplane/net/ethernet.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/neighbor_table.h"
#include "dataplane/net/route_table.h"
#include "dataplane/pipeline/control_channel.h"
#include "dataplane/pipeline/ipsec_state.h"
#include "tcpsec/v1/config.pb.h"

struct rte_mbuf;
struct rte_ring;

namespace tcpsec::pipeline {

enum class PortRole : uint8_t { kPublic, kProtected, kLocal };

struct Interface {
  uint16_t port_id = 0;
  std::string name;
  PortRole role = PortRole::kPublic;
  net::MacAddress mac;
  std::vector<net::IpPrefix> addresses;
  uint16_t mtu = 1500;  // L3 MTU enforced in software
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;

  // First address of the family on this port, if any.
  const net::IpAddress* address(net::IpFamily family) const;
};

struct Listener {
  net::IpAddress address;  // family kNone: every address of ours
  uint16_t port = 0;
};

struct TcpPeer {
  net::IpAddress address;
  uint16_t remote_port = 0;
  uint16_t local_port = 0;  // 0: random in the configured range
};

// Pseudo-TCP settings, converted from the config into the units the
// dataplane uses (TSC cycles) so the packet path never converts.
struct CtcpSettings {
  uint64_t handshake_timeout_tsc = 0;
  uint64_t syn_retransmit_tsc = 0;
  uint64_t ike_grace_tsc = 0;
  uint64_t idle_timeout_tsc = 0;  // 0: never
  uint64_t close_delay_tsc = 0;
  uint16_t local_port_min = 1024;
  uint16_t local_port_max = 65535;
  uint16_t hold_queue_packets = 4;
  bool strict_trailer = false;
};

// Packets held while an initiated connection completes its handshake.
// Slow path only (handshakes), so a mutex is fine here.
class HoldQueues {
 public:
  // Returns false (caller drops) when the connection's queue is full.
  bool hold(ctcp::ConnId id, rte_mbuf* m, size_t limit);
  std::vector<rte_mbuf*> take(ctcp::ConnId id);
  void drop(ctcp::ConnId id);  // frees held packets
  ~HoldQueues();

 private:
  std::mutex mu_;
  std::unordered_map<ctcp::ConnId, std::vector<rte_mbuf*>> held_;
};

class Gateway {
 public:
  static Expected<std::unique_ptr<Gateway>> create(const v1::DataplaneConfig& config,
                                                   std::vector<Interface> interfaces,
                                                   rte_mempool* pool, unsigned readers);

  const v1::DataplaneConfig& config() const { return config_; }
  // Adds an established connection with its sequence state and mappings
  // (configuration, control plane, state restore).
  Status install_connection(const v1::PseudoTcpConnection& entry);
  // Fills an outbound SA's route and egress MTU (routes are fixed at start,
  // so the packet path never looks them up).
  void resolve_egress(OutboundSa& sa) const;
  const std::vector<Interface>& interfaces() const { return interfaces_; }
  const Interface* interface(uint16_t port_id) const;
  const Interface* local_interface() const { return local_; }
  // The port that owns `address`, if it is one of ours.
  const Interface* owner_of(const net::IpAddress& address) const;
  // The same for a destination read straight from a header (the per-packet
  // check): integer compares over a flat list, no IpAddress built.
  const Interface* owner_of_v4(const uint8_t* address) const {
    uint32_t a;
    std::memcpy(&a, address, 4);
    for (const auto& [key, itf] : own4_) {
      if (key == a) return itf;
    }
    return nullptr;
  }
  const Interface* owner_of_v6(const uint8_t* address) const {
    uint64_t a[2];
    std::memcpy(a, address, 16);
    for (const auto& [key, itf] : own6_) {
      if (key[0] == a[0] && key[1] == a[1]) return itf;
    }
    return nullptr;
  }
  // Listeners and TCP peers: replaced whole by the control side (set_*),
  // read on the SYN / connection-opening path (not per data packet).
  bool is_listener(const net::IpAddress& local, uint16_t port) const;
  std::optional<TcpPeer> tcp_peer(const net::IpAddress& peer) const;
  // From validated config messages.
  Status set_listeners(const google::protobuf::RepeatedPtrField<v1::Listener>& listeners);
  Status set_tcp_peers(const google::protobuf::RepeatedPtrField<v1::TcpPeer>& peers);
  // Configured routes' next hops: resolved ahead of traffic so the first
  // packet (often a SYN) is not lost to ARP/ND.
  const std::vector<std::pair<uint16_t, net::IpAddress>>& next_hops() const { return next_hops_; }

  const CtcpSettings& ctcp() const { return ctcp_; }
  ctcp::ConnectionTable& connections() { return *connections_; }
  net::NeighborTable& neighbors() { return neighbors_; }
  const net::RouteTable& routes() const { return routes_; }
  HoldQueues& held() { return held_; }
  // Connections in a handshake state, for precise SYN retransmit timers.
  void add_handshaking(ctcp::ConnId id);
  std::vector<ctcp::ConnId> take_handshaking();
  rte_mempool* pool() const { return pool_; }
  uint64_t tsc_hz() const { return tsc_hz_; }

  std::atomic<bool>& stop() { return stop_; }

  // SAs and policies; nullptr in relay mode (no `sas`, no `policies`,
  // ipsec.enabled false).
  IpsecState* ipsec() { return ipsec_.get(); }
  ControlChannel& control() { return *control_; }
  // Worker i's ring of packets handed over by other workers (their SA is
  // owned by worker i).
  rte_ring* handoff_ring(unsigned worker) { return handoff_[worker]; }
  ~Gateway();

  // The newest established connection per (local, peer) address pair. With
  // no control plane pushing SPIs (relay mode), an outbound ESP SPI seen for
  // the first time is mapped to this connection. Slow path.
  void note_established(const ctcp::FlowKey& key, ctcp::ConnId id);
  void forget_connection(const ctcp::FlowKey& key, ctcp::ConnId id);
  ctcp::ConnId latest_connection(const net::IpAddress& local, const net::IpAddress& peer);

  // MAC of the host behind the LOCAL port, learned from the frames it sends
  // (packed in the low 48 bits; 0 until learned). Punted packets go there.
  net::MacAddress local_host_mac() const;
  void learn_local_host_mac(const net::MacAddress& mac);

 private:
  Gateway() = default;
  v1::DataplaneConfig config_;
  std::vector<Interface> interfaces_;
  const Interface* local_ = nullptr;
  std::atomic<std::shared_ptr<const std::vector<Listener>>> listeners_;
  std::atomic<std::shared_ptr<const std::vector<TcpPeer>>> peers_;
  std::vector<std::pair<uint32_t, const Interface*>> own4_;
  std::vector<std::pair<std::array<uint64_t, 2>, const Interface*>> own6_;
  std::vector<std::pair<uint16_t, net::IpAddress>> next_hops_;
  CtcpSettings ctcp_;
  std::unique_ptr<ctcp::ConnectionTable> connections_;
  net::NeighborTable neighbors_;
  net::RouteTable routes_;
  HoldQueues held_;
  std::mutex handshaking_mu_;
  std::vector<ctcp::ConnId> handshaking_;
  rte_mempool* pool_ = nullptr;
  uint64_t tsc_hz_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> local_host_mac_{0};
  std::unique_ptr<IpsecState> ipsec_;
  std::unique_ptr<ControlChannel> control_;
  std::vector<rte_ring*> handoff_;
  std::mutex latest_mu_;
  std::map<std::pair<net::IpAddress, net::IpAddress>, ctcp::ConnId> latest_;
};

}  // namespace tcpsec::pipeline

#include "dataplane/pipeline/gateway.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <utility>

#include "dataplane/config/config_loader.h"
#include "dataplane/ctcp/ctcp_trailer.h"
#include "dataplane/esp/esp.h"
#include "dataplane/net/udp_encap.h"

namespace tcpsec::pipeline {

const net::IpAddress* Interface::address(net::IpFamily family) const {
  for (const auto& p : addresses) {
    if (p.address.family == family) return &p.address;
  }
  return nullptr;
}

bool HoldQueues::hold(ctcp::ConnId id, rte_mbuf* m, size_t limit) {
  std::lock_guard lock(mu_);
  auto& q = held_[id];
  if (q.size() >= limit) return false;
  q.push_back(m);
  return true;
}

std::vector<rte_mbuf*> HoldQueues::take(ctcp::ConnId id) {
  std::lock_guard lock(mu_);
  auto it = held_.find(id);
  if (it == held_.end()) return {};
  auto out = std::move(it->second);
  held_.erase(it);
  return out;
}

void HoldQueues::drop(ctcp::ConnId id) {
  for (rte_mbuf* m : take(id)) rte_pktmbuf_free(m);
}

HoldQueues::~HoldQueues() {
  for (auto& [id, q] : held_) {
    for (rte_mbuf* m : q) rte_pktmbuf_free(m);
  }
}

namespace {

const Interface* find_by_name(const std::vector<Interface>& ifs, const std::string& name) {
  for (const auto& i : ifs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

}  // namespace

Expected<std::unique_ptr<Gateway>> Gateway::create(const v1::DataplaneConfig& config,
                                                   std::vector<Interface> interfaces,
                                                   rte_mempool* pool, unsigned readers) {
  std::unique_ptr<Gateway> g(new Gateway());
  g->config_ = config;
  g->interfaces_ = std::move(interfaces);
  g->pool_ = pool;
  g->tsc_hz_ = rte_get_tsc_hz();

  for (const auto& i : g->interfaces_) {
    if (i.role == PortRole::kLocal) g->local_ = &i;
    for (const auto& p : i.addresses) {
      if (p.address.is_v4()) {
        uint32_t a;
        std::memcpy(&a, p.address.bytes.data(), 4);
        g->own4_.emplace_back(a, &i);
      } else {
        std::array<uint64_t, 2> a;
        std::memcpy(a.data(), p.address.bytes.data(), 16);
        g->own6_.emplace_back(a, &i);
      }
      // Connected route for the interface's subnet.
      net::IpPrefix subnet = p;
      if (auto s = g->routes_.add(subnet, net::IpAddress{}, i.port_id); !s) {
        return Status::error("port " + i.name + ": " + s.message());
      }
    }
  }
  for (int r = 0; r < config.routes_size(); ++r) {
    const auto& route = config.routes(r);
    std::string where = "routes[" + std::to_string(r) + "]";
    auto prefix = net::IpPrefix::parse(route.prefix());
    if (!prefix) return Status::error(where + ".prefix: " + prefix.error());
    net::IpAddress next_hop;
    if (!route.next_hop().empty()) {
      auto nh = net::IpAddress::parse(route.next_hop());
      if (!nh) return Status::error(where + ".next_hop: " + nh.error());
      next_hop = *nh;
    }
    const Interface* port = find_by_name(g->interfaces_, route.port());
    if (!port) return Status::error(where + ".port: no port named '" + route.port() + "'");
    if (auto s = g->routes_.add(*prefix, next_hop, port->port_id); !s) {
      return Status::error(where + ": " + s.message());
    }
    if (next_hop.family != net::IpFamily::kNone)
      g->next_hops_.emplace_back(port->port_id, next_hop);
  }
  for (int n = 0; n < config.neighbors_size(); ++n) {
    const auto& nb = config.neighbors(n);
    std::string where = "neighbors[" + std::to_string(n) + "]";
    auto ip = net::IpAddress::parse(nb.address());
    if (!ip) return Status::error(where + ".address: " + ip.error());
    auto mac = net::MacAddress::parse(nb.mac());
    if (!mac) return Status::error(where + ".mac: " + mac.error());
    const Interface* port = find_by_name(g->interfaces_, nb.port());
    if (!port) return Status::error(where + ".port: no port named '" + nb.port() + "'");
    if (auto s = g->neighbors_.add_static(port->port_id, *ip, *mac); !s) {
      return Status::error(where + ": " + s.message());
    }
    // A static neighbour on the LOCAL port names the host punted packets go to.
    if (port->role == PortRole::kLocal) g->learn_local_host_mac(*mac);
  }

  const auto& pt = config.pseudo_tcp();
  if (auto st = g->set_listeners(pt.listeners()); !st) return st;
  if (auto st = g->set_tcp_peers(pt.peers()); !st) return st;
  uint64_t ms = g->tsc_hz_ / 1000;
  auto& c = g->ctcp_;
  c.handshake_timeout_tsc = pt.handshake_timeout_ms() * ms;
  c.syn_retransmit_tsc = pt.syn_retransmit_ms() * ms;
  c.ike_grace_tsc = uint64_t{pt.ike_grace_s()} * g->tsc_hz_;
  c.idle_timeout_tsc = uint64_t{pt.idle_timeout_s()} * g->tsc_hz_;
  c.close_delay_tsc = pt.close_delay_ms() * ms;
  c.local_port_min = static_cast<uint16_t>(pt.local_port_range().min());
  c.local_port_max = static_cast<uint16_t>(pt.local_port_range().max());
  c.hold_queue_packets = static_cast<uint16_t>(pt.hold_queue_packets());
  c.strict_trailer = pt.strict_trailer();

  ctcp::ConnectionTable::Options opts;
  opts.name = "ctcp";
  opts.max_connections = pt.max_connections();
  opts.max_sas_per_connection = pt.max_sas_per_connection();
  opts.max_readers = readers;
  auto table = ctcp::ConnectionTable::create(opts);
  if (!table) return Status::error("connection table: " + table.error());
  g->connections_ = std::move(*table);
  if (config.sas_size() > 0 || config.policies_size() > 0 || config.ipsec().enabled()) {
    IpsecState::Options iopts;
    iopts.max_sas = config.ipsec().max_sas() ? config.ipsec().max_sas() : 4096;
    iopts.max_sas = std::max<uint32_t>(iopts.max_sas, static_cast<uint32_t>(config.sas_size()));
    iopts.workers = readers;
    auto ipsec = IpsecState::create(iopts);
    if (!ipsec) return ipsec.status();
    g->ipsec_ = std::move(*ipsec);
  }
  auto control = ControlChannel::create();
  if (!control) return control.status();
  g->control_ = std::move(*control);
  for (unsigned w = 0; w < readers; ++w) {
    std::string name = "handoff" + std::to_string(w);
    rte_ring* r = rte_ring_create(name.c_str(), 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (!r) return Status::error("handoff ring " + name + ": " + rte_strerror(rte_errno));
    g->handoff_.push_back(r);
  }
  return g;
}

Status Gateway::install_connection(const v1::PseudoTcpConnection& entry) {
  auto local = net::IpAddress::parse(entry.local_address());
  if (!local) return Status::error("local_address: " + local.error());
  auto peer = net::IpAddress::parse(entry.peer_address());
  if (!peer) return Status::error("peer_address: " + peer.error());
  net::RouteResult route;
  if (!routes_.lookup(*peer, route)) return Status::error("no route to " + peer->to_string());
  ctcp::FlowKey key{*local, *peer, static_cast<uint16_t>(entry.local_port()),
                    static_cast<uint16_t>(entry.peer_port())};
  auto& table = *connections_;
  auto added = table.add(key, ctcp::ConnState::kEstablished, route.port, false);
  if (!added) return added.status();
  ctcp::Connection& c = table.at(*added);
  c.installed = true;
  c.snd_nxt.store(entry.send_next(), std::memory_order_relaxed);
  c.snd_una.store(entry.send_next(), std::memory_order_relaxed);
  c.peer_acks_window.store(false, std::memory_order_relaxed);
  c.rcv_nxt.store(entry.receive_next(), std::memory_order_relaxed);
  c.last_ack_sent.store(entry.receive_next(), std::memory_order_relaxed);
  for (uint64_t spi : entry.ike_initiator_spis()) {
    if (auto s = table.add_ike(*added, {spi, 0}); !s) {
      table.remove(*added);
      return s;
    }
  }
  for (uint32_t spi : entry.esp_spis()) {
    if (auto s = table.add_esp(*added, spi); !s) {
      table.remove(*added);
      return s;
    }
  }
  note_established(key, *added);
  return Status::ok();
}

Gateway::~Gateway() {
  for (rte_ring* r : handoff_) {
    void* m;
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
}

const Interface* Gateway::interface(uint16_t port_id) const {
  for (const auto& i : interfaces_) {
    if (i.port_id == port_id) return &i;
  }
  return nullptr;
}

const Interface* Gateway::owner_of(const net::IpAddress& address) const {
  for (const auto& i : interfaces_) {
    for (const auto& p : i.addresses) {
      if (p.address == address) return &i;
    }
  }
  return nullptr;
}

namespace {

net::IpAddress unspecified(net::IpFamily family) {
  net::IpAddress a;
  a.family = family;
  return a;
}

}  // namespace

bool Gateway::is_listener(const net::IpAddress& local, uint16_t port) const {
  auto listeners = listeners_.load(std::memory_order_acquire);
  for (const auto& l : *listeners) {
    if (l.port == port && (l.address == local || (l.address.family == local.family &&
                                                  l.address == unspecified(local.family)))) {
      return true;
    }
  }
  return false;
}

std::optional<TcpPeer> Gateway::tcp_peer(const net::IpAddress& peer) const {
  auto peers = peers_.load(std::memory_order_acquire);
  for (const auto& p : *peers) {
    if (p.address == peer) return p;
  }
  return std::nullopt;
}

Status Gateway::set_listeners(const google::protobuf::RepeatedPtrField<v1::Listener>& listeners) {
  auto next = std::make_shared<std::vector<Listener>>();
  for (int i = 0; i < listeners.size(); ++i) {
    const auto& l = listeners[i];
    auto addr = net::IpAddress::parse(l.address());
    if (!addr)
      return Status::error("listeners[" + std::to_string(i) + "].address: " + addr.error());
    // 0.0.0.0 is every IPv4 address of ours, :: every IPv6 one.
    for (uint32_t port : l.ports()) next->push_back({*addr, static_cast<uint16_t>(port)});
  }
  listeners_.store(std::move(next), std::memory_order_release);
  return Status::ok();
}

Status Gateway::set_tcp_peers(const google::protobuf::RepeatedPtrField<v1::TcpPeer>& peers) {
  auto next = std::make_shared<std::vector<TcpPeer>>();
  for (int i = 0; i < peers.size(); ++i) {
    const auto& p = peers[i];
    auto addr = net::IpAddress::parse(p.address());
    if (!addr) return Status::error("peers[" + std::to_string(i) + "].address: " + addr.error());
    uint32_t remote = p.remote_port() ? p.remote_port() : config::defaults::kRemotePort;
    next->push_back({*addr, static_cast<uint16_t>(remote), static_cast<uint16_t>(p.local_port())});
  }
  peers_.store(std::move(next), std::memory_order_release);
  return Status::ok();
}

void Gateway::resolve_egress(OutboundSa& sa) const {
  net::RouteResult route;
  if (sa.peer.family != net::IpFamily::kNone && routes_.lookup(sa.peer, route)) {
    if (const Interface* out = interface(route.port)) {
      sa.egress_mtu = out->mtu;
      // ESP's overhead grows with the length only through padding, so
      // length + overhead never decreases: scan down from the MTU.
      const uint32_t outer = sa.encap == OuterEncap::kUdp         ? net::kUdpHeaderLen
                             : sa.encap == OuterEncap::kPseudoTcp ? ctcp::kOverhead
                                                                  : 0;
      sa.max_inner = 0;
      for (uint32_t len = sa.egress_mtu; len > 0; --len) {
        if (len + esp::esp_overhead(sa.esp, static_cast<uint16_t>(len)) + outer <= sa.egress_mtu) {
          sa.max_inner = static_cast<uint16_t>(len);
          break;
        }
      }
    }
    sa.route = route;
    sa.has_route = true;
  }
}

void Gateway::add_handshaking(ctcp::ConnId id) {
  std::lock_guard lock(handshaking_mu_);
  handshaking_.push_back(id);
}

std::vector<ctcp::ConnId> Gateway::take_handshaking() {
  std::lock_guard lock(handshaking_mu_);
  return std::exchange(handshaking_, {});
}

void Gateway::note_established(const ctcp::FlowKey& key, ctcp::ConnId id) {
  std::lock_guard lock(latest_mu_);
  latest_[{key.local, key.peer}] = id;
}

void Gateway::forget_connection(const ctcp::FlowKey& key, ctcp::ConnId id) {
  std::lock_guard lock(latest_mu_);
  auto it = latest_.find({key.local, key.peer});
  if (it != latest_.end() && it->second == id) latest_.erase(it);
}

ctcp::ConnId Gateway::latest_connection(const net::IpAddress& local, const net::IpAddress& peer) {
  std::lock_guard lock(latest_mu_);
  auto it = latest_.find({local, peer});
  return it == latest_.end() ? ctcp::kNoConn : it->second;
}

net::MacAddress Gateway::local_host_mac() const {
  uint64_t v = local_host_mac_.load(std::memory_order_relaxed);
  if (v == 0) return net::MacAddress::broadcast();
  net::MacAddress mac;
  for (int i = 0; i < 6; ++i) mac.bytes[i] = static_cast<uint8_t>(v >> (40 - 8 * i));
  return mac;
}

void Gateway::learn_local_host_mac(const net::MacAddress& mac) {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | mac.bytes[i];
  if (local_host_mac_.load(std::memory_order_relaxed) != v) {
    local_host_mac_.store(v, std::memory_order_relaxed);
  }
}

}  // namespace tcpsec::pipeline

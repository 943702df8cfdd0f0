// Worker loop, link-layer dispatch, local plumbing (ARP, ND, ICMP echo) and
// transmission. The pseudo-TCP paths are in ctcp_path.cc.
#include "dataplane/pipeline/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <cstring>

#include "dataplane/net/arp.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/mbuf_view.h"
#include "dataplane/net/nd.h"

namespace tcpsec::pipeline {

Worker::Worker(Gateway& gateway, WorkerOptions options) : gw_(gateway), opt_(std::move(options)) {
  if (opt_.burst == 0 || opt_.burst > kMaxBurst) opt_.burst = 32;
  if (gw_.ipsec()) {
    esp_in_ = std::make_unique<EspInBatch>();
    spd_ = std::make_unique<SpdBatch>();
    spd_cache_ = std::make_unique<spd::SpdFlowCache>();
    spd_cache6_ = std::make_unique<spd::SpdFlowCache6>();
    protected_key6_ = std::make_unique<std::array<spd::SpdFlowCache6::Words, kMaxBurst>>();
    esp_out_ = std::make_unique<EspOutBatch>();
  }
}

Status Worker::init() {
  if (!gw_.ipsec()) return Status::ok();
  auto engine = crypto::CryptoEngine::create();
  if (!engine) return Status::error("worker " + std::to_string(opt_.index) + ": " + engine.error());
  engine_.emplace(std::move(*engine));
  return Status::ok();
}

void Worker::run() {
  auto& table = gw_.connections();
  if (auto s = table.register_reader(opt_.index); !s) return;
  IpsecState* ips = gw_.ipsec();
  if (ips && !ips->register_reader(opt_.index)) return;
  uint64_t tick = gw_.tsc_hz() / 100;  // timers every 10 ms
  while (!gw_.stop().load(std::memory_order_relaxed)) {
    unsigned n = poll_once();
    if (pending_count_ != 0) retry_unresolved(rte_rdtsc());
    table.quiescent(opt_.index);
    if (ips) ips->quiescent(opt_.index);
    if (opt_.run_timers) {
      uint64_t now = rte_rdtsc();
      if (now >= next_timer_tsc_) {
        run_timers(now);
        flush();
        next_timer_tsc_ = now + tick;
      }
    }
    if (n == 0 && opt_.idle_sleep_us != 0) rte_delay_us_sleep(opt_.idle_sleep_us);
  }
  flush();
  for (uint16_t i = 0; i < pending_count_; ++i)
    drop(pending_[i].m, DropReason::kNeighborUnresolved);
  pending_count_ = 0;
  table.unregister_reader(opt_.index);
  if (ips) ips->unregister_reader(opt_.index);
}

unsigned Worker::poll_once() {
  unsigned total = 0;
  burst_tsc_ = rte_rdtsc();
  rte_mbuf* pkts[kMaxBurst];
  if (opt_.plain_forward) {
    const uint16_t n_ports = static_cast<uint16_t>(gw_.interfaces().size());
    const uint16_t txq = static_cast<uint16_t>(opt_.index);
    for (const RxQueue& q : opt_.rx) {
      uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, opt_.burst);
      if (n == 0) continue;
      const uint16_t out = static_cast<uint16_t>((q.port + 1) % n_ports);
      uint16_t sent = rte_eth_tx_burst(out, txq, pkts, n);
      counters_.add(Counter::kRxPackets, n);
      counters_.add(Counter::kTxPackets, sent);
      for (uint16_t i = sent; i < n; ++i) drop(pkts[i], DropReason::kTxFull);
      total += n;
    }
    return total;
  }
  if (esp_in_) drain_handoff();
  if (opt_.run_timers) drain_injected();
  for (const RxQueue& q : opt_.rx) {
    uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, opt_.burst);
    if (n == 0) continue;
    const Interface* in = gw_.interface(q.port);
    counters_.add(Counter::kRxPackets, n);
    total += n;
    if (in->role == PortRole::kProtected && gw_.ipsec()) {
      protected_burst(*in, pkts, n);
      continue;
    }
    if (n > 1) rte_prefetch0(rte_pktmbuf_mtod(pkts[1], void*));
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 2 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void*));
      handle_frame(*in, pkts[i]);
    }
  }
  if (esp_in_) {
    spd_flush();
    esp_in_flush();
    esp_out_flush();
  }
  flush();
  return total;
}

void Worker::drop(rte_mbuf* m, DropReason r) {
  drops_.add(r);
  rte_pktmbuf_free(m);
}

void Worker::handle_frame(const Interface& in, rte_mbuf* m) {
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) return drop(m, DropReason::kMultiSegment);
  if (m->data_len < net::kEthHeaderLen) return drop(m, DropReason::kEthTruncated);
  const uint8_t* eth = rte_pktmbuf_mtod(m, const uint8_t*);
  std::memcpy(rx_src_mac_.bytes.data(), eth + 6, 6);
  uint16_t type = net::load_be16(eth + 12);
  if (in.role == PortRole::kLocal) gw_.learn_local_host_mac(rx_src_mac_);
  switch (type) {
    case net::kEtherTypeArp:
      return handle_arp(in, m);
    case net::kEtherTypeIpv4:
      rte_pktmbuf_adj(m, net::kEthHeaderLen);
      return handle_ipv4(in, m);
    case net::kEtherTypeIpv6:
      rte_pktmbuf_adj(m, net::kEthHeaderLen);
      return handle_ipv6(in, m);
    default:
      return drop(m, DropReason::kEthUnknownType);
  }
}

void Worker::handle_arp(const Interface& in, rte_mbuf* m) {
  auto frame = net::mbuf_view(m);
  net::ArpInfo arp;
  DropReason r = net::parse_arp(frame.bytes().subspan(net::kEthHeaderLen), arp);
  if (r != DropReason::kNone) return drop(m, r);
  if (arp.sender_ip != net::IpAddress::v4(0u)) {
    gw_.neighbors().learn(in.port_id, arp.sender_ip, arp.sender_mac);
  }
  // On the LOCAL port we answer for every address (proxy ARP): the host
  // reaches all peers through us. Never for the host's own address (DAD).
  bool ours = gw_.owner_of(arp.target_ip) == &in ||
              (in.role == PortRole::kLocal && arp.target_ip != arp.sender_ip);
  if (arp.op != 1 || !ours) {
    rte_pktmbuf_free(m);
    return;
  }
  net::make_arp_reply(frame, arp, in.mac);
  net::mbuf_commit(m, frame);
  counters_.add(Counter::kArpReplies);
  enqueue(in.port_id, m);
}

void Worker::handle_ipv4(const Interface& in, rte_mbuf* m) {
  auto view = net::mbuf_view(m);
  net::IpPacketInfo info;
  DropReason r = net::parse_ip_packet(view.bytes(), info);
  if (r != DropReason::kNone) return drop(m, r);
  if (m->data_len > info.packet_length) rte_pktmbuf_trim(m, m->data_len - info.packet_length);
  if (in.role == PortRole::kLocal) return local_input(m);
  const Interface* owner = gw_.owner_of_v4(view.data() + 16);
  if (!owner) {
    if (in.role == PortRole::kProtected) return protected_input(m, info);
    return drop(m, DropReason::kIpNotForUs);
  }
  if (info.proto == net::kProtoIcmp) {
    handle_icmp_to_us(in, m, info);
    return;
  }
  if (in.role == PortRole::kPublic) return public_input(in, m, info);
  drop(m, DropReason::kIpUnsupportedProto);
}

void Worker::handle_ipv6(const Interface& in, rte_mbuf* m) {
  auto view = net::mbuf_view(m);
  net::IpPacketInfo info;
  DropReason r = net::parse_ip_packet(view.bytes(), info);
  if (r != DropReason::kNone) return drop(m, r);
  if (m->data_len > info.packet_length) rte_pktmbuf_trim(m, m->data_len - info.packet_length);
  view = net::mbuf_view(m);
  if (info.proto == net::kProtoIcmpv6) {
    net::NdInfo nd;
    r = net::parse_nd(view.bytes(), nd);
    if (r == DropReason::kNone) {
      if (nd.has_link_addr && nd.source.family == net::IpFamily::kV6 &&
          nd.source != *net::IpAddress::parse("::")) {
        gw_.neighbors().learn(in.port_id, nd.type == 135 ? nd.source : nd.target, nd.link_addr);
      }
      bool ours = gw_.owner_of(nd.target) == &in || in.role == PortRole::kLocal;
      if (nd.type == 135 && ours) {
        bool dad = nd.source == *net::IpAddress::parse("::");
        net::IpAddress dst = dad ? *net::IpAddress::parse("ff02::1") : nd.source;
        net::MacAddress dst_mac = dad ? net::ipv6_multicast_mac(dst) : rx_src_mac_;
        rte_mbuf* reply = rte_pktmbuf_alloc(gw_.pool());
        if (!reply) return drop(m, DropReason::kNoMbuf);
        uint8_t* out = rte_pktmbuf_mtod(reply, uint8_t*);
        uint16_t len = net::build_neighbor_advertisement({out, rte_pktmbuf_tailroom(reply)}, in.mac,
                                                         nd.target, dst, dst_mac, !dad);
        reply->data_len = reply->pkt_len = len;
        counters_.add(Counter::kNdAdvertisements);
        enqueue(in.port_id, reply);
      }
      rte_pktmbuf_free(m);
      return;
    }
    if (r != DropReason::kIcmpUnsupportedType) return drop(m, r);  // malformed ND
  }
  if (in.role == PortRole::kLocal) {
    if (info.proto == net::kProtoIcmpv6 && gw_.owner_of(net::ip_destination(view.bytes(), info))) {
      handle_icmp_to_us(in, m, info);
      return;
    }
    return local_input(m);
  }
  const Interface* owner = gw_.owner_of_v6(view.data() + 24);
  if (!owner) {
    if (in.role == PortRole::kProtected) return protected_input(m, info);
    return drop(m, DropReason::kIpNotForUs);
  }
  if (info.proto == net::kProtoIcmpv6) {
    handle_icmp_to_us(in, m, info);
    return;
  }
  if (in.role == PortRole::kPublic) return public_input(in, m, info);
  drop(m, DropReason::kIpUnsupportedProto);
}

// A packet for one of our public addresses: pseudo-TCP, ESP or NAT-T/IKE.
void Worker::public_input(const Interface& in, rte_mbuf* m, net::IpPacketInfo& info) {
  switch (info.proto) {
    case net::kProtoTcp:
      return ctcp_input(in, m, info);
    case net::kProtoEsp:
      if (gw_.ipsec()) return esp_input(m, info);
      return punt_to_local(m);  // relay mode: the host's ESP
    case net::kProtoUdp:
      return public_udp_input(m, info);
    default:
      return drop(m, DropReason::kIpUnsupportedProto);
  }
}

bool Worker::handle_icmp_to_us(const Interface& in, rte_mbuf* m, const net::IpPacketInfo& info) {
  auto view = net::mbuf_view(m);
  DropReason r = net::make_echo_reply(view, info);
  if (r != DropReason::kNone) {
    drop(m, r);
    return false;
  }
  // Answer on the port it came in on, to the MAC it came from: no route or
  // neighbour lookup needed, and it works before ARP has run.
  uint8_t* eth = view.prepend(net::kEthHeaderLen);
  net::write_eth_header(
      eth, rx_src_mac_, in.mac,
      info.family == net::IpFamily::kV4 ? net::kEtherTypeIpv4 : net::kEtherTypeIpv6);
  net::mbuf_commit(m, view);
  counters_.add(Counter::kEchoReplies);
  enqueue(in.port_id, m);
  return true;
}

void Worker::solicit(const Interface& out, const net::IpAddress& next_hop) {
  if (!gw_.neighbors().should_solicit(out.port_id, next_hop, rte_rdtsc(), gw_.tsc_hz())) return;
  const net::IpAddress* src = out.address(next_hop.family);
  if (!src) return;
  rte_mbuf* m = rte_pktmbuf_alloc(gw_.pool());
  if (!m) return;
  std::span<uint8_t> buf{rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m)};
  uint16_t len = next_hop.is_v4() ? net::build_arp_request(buf, out.mac, *src, next_hop)
                                  : net::build_neighbor_solicitation(buf, out.mac, *src, next_hop);
  if (len == 0) {
    rte_pktmbuf_free(m);
    return;
  }
  m->data_len = m->pkt_len = len;
  counters_.add(next_hop.is_v4() ? Counter::kArpRequests : Counter::kNdSolicitations);
  enqueue(out.port_id, m);
}

void Worker::send_l3(rte_mbuf* m) {
  const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
  const net::DestinationCache::Key key = net::DestinationCache::key_of(ip);
  // Read before the lookups: a change after them makes the entry miss next time.
  const uint64_t generation = gw_.neighbors().generation();
  net::DestinationCache::Egress egress;
  if (destinations_.find(key, generation, egress)) {
    send_with_macs(m, egress.port, egress.macs);
    return;
  }
  net::IpAddress dst =
      key.family == net::IpFamily::kV4 ? net::IpAddress::v4(ip + 16) : net::IpAddress::v6(ip + 24);
  net::RouteResult route;
  if (!gw_.routes().lookup(dst, route)) return drop(m, DropReason::kNoRoute);
  const uint8_t* macs = send_l3_via(m, route);
  if (macs != nullptr) destinations_.insert(key, generation, route.port, macs);
}

const uint8_t* Worker::send_l3_via(rte_mbuf* m, const net::RouteResult& route) {
  // Read before the lookup: a change after it makes the entry miss next time.
  const uint64_t generation = gw_.neighbors().generation();
  uint32_t h;
  std::memcpy(&h, route.next_hop.bytes.data() + (route.next_hop.is_v4() ? 0 : 12), 4);
  NextHopCache& c = next_hops_[(h ^ (h >> 16) ^ route.port) % kNextHopCache];
  if (c.generation != generation || c.port != route.port || c.next_hop != route.next_hop) {
    const Interface* out = gw_.interface(route.port);
    net::MacAddress mac;
    if (!gw_.neighbors().lookup(route.port, route.next_hop, mac)) {
      solicit(*out, route.next_hop);
      // Hold a few packets while ARP/ND runs, as routers do: the first packet
      // to a new peer is often a SYN whose loss would cost a retransmit.
      if (pending_count_ < pending_.size()) {
        pending_[pending_count_++] = {m, rte_rdtsc()};
        return nullptr;
      }
      drop(m, DropReason::kNeighborUnresolved);
      return nullptr;
    }
    c.generation = generation;
    c.next_hop = route.next_hop;
    c.port = route.port;
    std::memcpy(c.macs, mac.bytes.data(), 6);
    std::memcpy(c.macs + 6, out->mac.bytes.data(), 6);
  }
  return send_with_macs(m, route.port, c.macs) ? c.macs : nullptr;
}

bool Worker::send_with_macs(rte_mbuf* m, uint16_t port, const uint8_t* macs) {
  const bool v4 = (rte_pktmbuf_mtod(m, const uint8_t*)[0] >> 4) == 4;
  uint8_t* eth = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, net::kEthHeaderLen));
  if (!eth) {
    drop(m, DropReason::kEncapNoHeadroom);
    return false;
  }
  std::memcpy(eth, macs, 12);
  net::store_be16(eth + 12, v4 ? net::kEtherTypeIpv4 : net::kEtherTypeIpv6);
  enqueue(port, m);
  return true;
}

void Worker::retry_unresolved(uint64_t now) {
  // Retry at most every 2 ms; give up after a second.
  if (now - last_retry_tsc_ < gw_.tsc_hz() / 500) return;
  last_retry_tsc_ = now;
  Pending waiting[kMaxPending];
  uint16_t n = pending_count_;
  std::copy_n(pending_.begin(), n, waiting);
  pending_count_ = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (now - waiting[i].since > gw_.tsc_hz()) {
      drop(waiting[i].m, DropReason::kNeighborUnresolved);
      continue;
    }
    uint16_t before = pending_count_;
    send_l3(waiting[i].m);
    // Still unresolved: keep its original timestamp.
    if (pending_count_ > before) pending_[pending_count_ - 1].since = waiting[i].since;
  }
  flush();
}

void Worker::punt_to_local(rte_mbuf* m) {
  const Interface* local = gw_.local_interface();
  if (!local) return drop(m, DropReason::kNoRoute);
  auto view = net::mbuf_view(m);
  bool v4 = (view.data()[0] >> 4) == 4;
  uint8_t* eth = view.prepend(net::kEthHeaderLen);
  if (!eth) return drop(m, DropReason::kEncapNoHeadroom);
  net::write_eth_header(eth, gw_.local_host_mac(), local->mac,
                        v4 ? net::kEtherTypeIpv4 : net::kEtherTypeIpv6);
  net::mbuf_commit(m, view);
  counters_.add(Counter::kPuntedToLocal);
  enqueue(local->port_id, m);
}

void Worker::enqueue(uint16_t port, rte_mbuf* m) {
  if (port >= kMaxPorts) return drop(m, DropReason::kNoRoute);
  TxQueue& q = tx_[port];
  q.pkts[q.count++] = m;
  if (q.count == q.pkts.size()) flush();
}

void Worker::flush() {
  for (uint16_t port = 0; port < kMaxPorts; ++port) {
    TxQueue& q = tx_[port];
    if (q.count == 0) continue;
    uint16_t sent =
        rte_eth_tx_burst(port, static_cast<uint16_t>(opt_.index), q.pkts.data(), q.count);
    counters_.add(Counter::kTxPackets, sent);
    for (uint16_t i = sent; i < q.count; ++i) drop(q.pkts[i], DropReason::kTxFull);
    q.count = 0;
  }
}

}  // namespace tcpsec::pipeline

// The IPsec paths of a worker: protected traffic (classified by the SPD in
// protected_path.cc) encrypted for its SA (then sent as plain ESP, UDP-encapsulated ESP or
// pseudo-TCP), and ESP from peers (plain, UDP 4500 or out of a pseudo-TCP
// connection) decrypted, checked against its SA's selector and forwarded.
//
// Both directions run in three phases per burst: packets are classified
// and queued as they arrive, then each queue is prepared, handed to the
// crypto engine in one call, and finished.
#include <rte_cycles.h>
#include <rte_ip_frag.h>
#include <rte_ring.h>

#include <cstring>

#include "dataplane/net/forwarding.h"
#include "dataplane/net/icmp.h"
#include "dataplane/net/mbuf_view.h"
#include "dataplane/net/udp_encap.h"
#include "dataplane/pipeline/worker.h"

namespace tcpsec::pipeline {

void Worker::handoff(unsigned owner, rte_mbuf* m, uint32_t key, bool inbound) {
  m->hash.usr = key;
  m->packet_type = inbound ? 1 : 0;
  if (rte_ring_mp_enqueue(gw_.handoff_ring(owner), m) != 0)
    return drop(m, DropReason::kHandoffFull);
  counters_.add(Counter::kEspHandedOff);
}

void Worker::drain_handoff() {
  rte_ring* ring = gw_.handoff_ring(opt_.index);
  void* objs[kEspBatch];
  unsigned n = rte_ring_sc_dequeue_burst(ring, objs, kEspBatch, nullptr);
  IpsecState* ips = gw_.ipsec();
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = static_cast<rte_mbuf*>(objs[i]);
    if (m->packet_type == 1) {
      net::IpPacketInfo outer;
      DropReason r = net::parse_ip_packet(net::mbuf_view(m).bytes(), outer, false);
      if (r != DropReason::kNone) {
        drop(m, r);
        continue;
      }
      esp_in_add(m, m->hash.usr, outer);
    } else {
      OutboundSa* sa = ips ? ips->outbound(m->hash.usr) : nullptr;
      if (!sa) {
        drop(m, DropReason::kEspNoSa);
        continue;
      }
      net::IpPacketInfo info;
      DropReason r = net::parse_ip_packet(net::mbuf_view(m).bytes(), info, false);
      if (r != DropReason::kNone) {
        drop(m, r);
        continue;
      }
      esp_out_add(m, sa, info);
    }
  }
}

// ---- outbound -----------------------------------------------------------

void Worker::esp_out_enqueue(rte_mbuf* m, OutboundSa* sa, const net::IpPacketInfo& info) {
  // PMTU: what ESP and the outer transport add must still fit the egress
  // MTU; otherwise fragment the inner packet (IPv4 without DF) or tell the
  // source the size that fits.
  if (sa->egress_mtu != 0 && info.packet_length > sa->max_inner) {
    uint32_t added = esp::esp_overhead(sa->esp, info.packet_length) +
                     (sa->encap == OuterEncap::kUdp         ? net::kUdpHeaderLen
                      : sa->encap == OuterEncap::kPseudoTcp ? ctcp::kOverhead
                                                            : 0);
    if (info.packet_length + added > sa->egress_mtu) {
      uint16_t fits = static_cast<uint16_t>(sa->egress_mtu > added ? sa->egress_mtu - added : 0);
      auto view = net::mbuf_view(m);
      bool df = info.family == net::IpFamily::kV6 || (net::load_be16(view.data() + 6) & 0x4000);
      if (df) {
        rte_mbuf* icmp = rte_pktmbuf_alloc(gw_.pool());
        const Interface* back = nullptr;
        net::RouteResult r2;
        net::IpAddress src = net::ip_source(view.bytes(), info);
        if (gw_.routes().lookup(src, r2)) back = gw_.interface(r2.port);
        const net::IpAddress* from = back ? back->address(info.family) : nullptr;
        if (icmp && from) {
          uint16_t len = net::build_packet_too_big(
              {rte_pktmbuf_mtod(icmp, uint8_t*), rte_pktmbuf_tailroom(icmp)}, view.bytes(), *from,
              fits);
          if (len) {
            icmp->data_len = icmp->pkt_len = len;
            counters_.add(Counter::kPmtuIcmpSent);
            send_l3(icmp);
            icmp = nullptr;
          }
        }
        if (icmp) rte_pktmbuf_free(icmp);
        return drop(m, DropReason::kPmtuExceededDf);
      }
      rte_mbuf* frags[kMaxFragments];
      int32_t n =
          rte_ipv4_fragment_packet(m, frags, kMaxFragments, fits & ~7u, gw_.pool(), gw_.pool());
      rte_pktmbuf_free(m);
      if (n < 0) {
        drops_.add(DropReason::kPmtuFragmentFailed);
        return;
      }
      counters_.add(Counter::kPmtuFragmented);
      for (int32_t i = 0; i < n; ++i) {
        if (frags[i]->nb_segs > 1 && rte_pktmbuf_linearize(frags[i]) != 0) {
          drop(frags[i], DropReason::kMultiSegment);
          continue;
        }
        if (sa->owner != opt_.index) {
          handoff(sa->owner, frags[i], sa->esp.spi, false);
          continue;
        }
        net::IpPacketInfo frag_info;
        DropReason r = net::parse_ip_packet(net::mbuf_view(frags[i]).bytes(), frag_info, false);
        if (r != DropReason::kNone) {
          drop(frags[i], r);
          continue;
        }
        esp_out_add(frags[i], sa, frag_info);
      }
      return;
    }
  }
  if (sa->owner != opt_.index) return handoff(sa->owner, m, sa->esp.spi, false);
  esp_out_add(m, sa, info);
}

void Worker::esp_out_add(rte_mbuf* m, OutboundSa* sa, const net::IpPacketInfo& info) {
  EspOutBatch& b = *esp_out_;
  if (b.n == kEspBatch) esp_out_flush();
  b.m[b.n] = m;
  b.sa[b.n] = sa;
  b.info[b.n] = info;
  ++b.n;
}

void Worker::esp_out_flush() {
  EspOutBatch& b = *esp_out_;
  uint16_t n = b.n;
  if (n == 0) return;
  b.n = 0;
  // AES-GCM SAs (nearly all) are framed and encrypted on the spot: the
  // direct API has no queue, so an op and an engine pass would only add
  // work around the same call. The rest are prepared for one engine pass.
  // No reset of the ops: prepare clears op.crypto.sa first and sets every
  // field the engine and finish read when it succeeds; a sealed packet's op
  // is marked skipped.
  uint16_t queued = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(b.m[i + 1], void*));
    auto view = net::mbuf_view(b.m[i]);
    esp::EspSaOut& sa = b.sa[i]->esp;
    b.sealed[i] = esp::esp_outbound_direct(sa);
    if (b.sealed[i]) {
      b.op[i].crypto.sa = nullptr;
      b.result[i] = esp::esp_outbound_seal(view, b.info[i], sa, *engine_);
    } else {
      b.result[i] = esp::esp_outbound_prepare(view, b.info[i], sa, b.op[i]);
      ++queued;
    }
    net::mbuf_commit(b.m[i], view);
  }
  if (queued != 0) esp::esp_process(*engine_, {b.op.data(), n});
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = b.m[i];
    if (b.result[i] != DropReason::kNone) {
      drop(m, b.result[i]);
      continue;
    }
    if (!b.sealed[i]) {
      auto view = net::mbuf_view(m);
      DropReason r = esp::esp_outbound_finish(view, b.op[i]);
      if (r != DropReason::kNone) {
        drop(m, r);
        continue;
      }
      net::mbuf_commit(m, view);
    }
    counters_.add(Counter::kEspEncrypted);
    esp_sent(m, *b.sa[i]);
  }
}

// The ESP packet of `sa` is ready: send it over the SA's outer transport.
void Worker::esp_sent(rte_mbuf* m, OutboundSa& sa) {
  switch (sa.encap) {
    case OuterEncap::kPlain:
      return sa.has_route ? send_via_sa(m, sa) : send_l3(m);
    case OuterEncap::kUdp: {
      auto view = net::mbuf_view(m);
      net::IpPacketInfo info;
      if (net::parse_ip_packet(view.bytes(), info, false) != DropReason::kNone) {
        return drop(m, DropReason::kEspBadInner);
      }
      DropReason r = net::udp_encapsulate(view, info, sa.local_port, sa.peer_port);
      if (r != DropReason::kNone) return drop(m, r);
      net::mbuf_commit(m, view);
      return sa.has_route ? send_via_sa(m, sa) : send_l3(m);
    }
    case OuterEncap::kPseudoTcp: {
      auto& table = gw_.connections();
      // Read before the lookup: a removal after it makes the cache miss next time.
      const uint64_t generation = table.esp_generation();
      if (sa.conn_generation == generation)
        return ctcp_output(sa.conn_id, table.at(sa.conn_id), m, &sa);
      ctcp::ConnId id = table.lookup_esp(sa.local, sa.peer, sa.esp.spi);
      if (id == ctcp::kNoConn) {
        id = gw_.latest_connection(sa.local, sa.peer);
        if (id != ctcp::kNoConn && !table.add_esp(id, sa.esp.spi)) id = ctcp::kNoConn;
      }
      if (id == ctcp::kNoConn) id = ctcp_open(sa.local, sa.peer, 0, sa.esp.spi);
      if (id == ctcp::kNoConn) return drop(m, DropReason::kEncapNoConnection);
      sa.conn_id = id;
      sa.conn_generation = generation;
      return ctcp_output(id, table.at(id), m, &sa);
    }
  }
}

void Worker::send_via_sa(rte_mbuf* m, OutboundSa& sa) {
  net::NeighborTable& neighbors = gw_.neighbors();
  // Read before the lookup: a change after it makes the cache miss next time.
  const uint64_t generation = neighbors.generation();
  if (sa.eth_generation != generation) {
    net::MacAddress mac;
    // Unresolved: the slow path solicits and holds the packet.
    if (!neighbors.lookup(sa.route.port, sa.route.next_hop, mac)) {
      send_l3_via(m, sa.route);
      return;
    }
    const Interface* out = gw_.interface(sa.route.port);
    std::memcpy(sa.eth_macs, mac.bytes.data(), 6);
    std::memcpy(sa.eth_macs + 6, out->mac.bytes.data(), 6);
    sa.eth_generation = generation;
  }
  send_with_macs(m, sa.route.port, sa.eth_macs);
}

// ---- inbound ------------------------------------------------------------

void Worker::public_udp_input(rte_mbuf* m, net::IpPacketInfo& info) {
  auto view = net::mbuf_view(m);
  uint16_t dport = info.l4_length() >= 4 ? net::load_be16(view.data() + info.l3_length + 2) : 0;
  if (dport == 500) return punt_ike(m, IkeTransport::kUdp, ctcp::kNoConn);
  if (dport != net::kNatTPort) return drop(m, DropReason::kIpUnsupportedProto);
  switch (net::classify_natt(view.bytes(), info)) {
    case net::NatTKind::kIke:
      return punt_ike(m, IkeTransport::kUdp, ctcp::kNoConn);
    case net::NatTKind::kKeepalive:
      counters_.add(Counter::kNatKeepalives);
      return drop(m, DropReason::kNatKeepalive);
    case net::NatTKind::kMalformed:
      return drop(m, DropReason::kUdpEncapBad);
    case net::NatTKind::kEsp:
      break;
  }
  if (!gw_.ipsec()) return punt_to_local(m);  // relay mode: the host's ESP
  DropReason r = net::udp_decapsulate(view, info);
  if (r != DropReason::kNone) return drop(m, r);
  net::mbuf_commit(m, view);
  esp_input(m, info);
}

void Worker::esp_input(rte_mbuf* m, const net::IpPacketInfo& outer) {
  IpsecState* ips = gw_.ipsec();
  auto view = net::mbuf_view(m);
  esp::SpiPeek peek = esp::esp_peek_spi(view.bytes(), outer);
  if (peek.drop != DropReason::kNone) return drop(m, peek.drop);
  sad::SaIndex idx =
      ips->inbound_index(inbound_sas_, peek.spi, net::ip_destination(view.bytes(), outer));
  esp_input_to(m, outer, idx);
}

void Worker::esp_input_to(rte_mbuf* m, const net::IpPacketInfo& outer, sad::SaIndex idx) {
  if (idx == sad::kNoSa) return drop(m, DropReason::kEspNoSa);
  IpsecState& ips = *gw_.ipsec();
  unsigned owner = ips.inbound_owner(idx);
  if (owner != opt_.index) return handoff(owner, m, idx, true);
  // esp_in_flush reads the record's first line, writes its counters and
  // checks its window once the batch is full: start loading them now.
  const esp::EspSaIn& sa = ips.inbound(idx).esp;
  rte_prefetch0(&sa);
  rte_prefetch0(&sa.packets);
  rte_prefetch0(&sa.window);
  esp_in_add(m, idx, outer);
}

void Worker::esp_in_add(rte_mbuf* m, uint32_t sa_index, const net::IpPacketInfo& outer) {
  EspInBatch& b = *esp_in_;
  if (b.n == kEspBatch) esp_in_flush();
  b.m[b.n] = m;
  b.sa[b.n] = sa_index;
  b.info[b.n] = outer;
  ++b.n;
}

void Worker::esp_in_flush() {
  EspInBatch& b = *esp_in_;
  uint16_t n = b.n;
  if (n == 0) return;
  b.n = 0;
  IpsecState& ips = *gw_.ipsec();
  // AES-GCM SAs are opened on the spot (as esp_out_flush seals them); the
  // rest are prepared for one engine pass. No reset of the ops: prepare and
  // open clear op.crypto.sa first and set every field the engine, the check
  // and finish read when they succeed.
  uint16_t queued = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(b.m[i + 1], void*));
    auto view = net::mbuf_view(b.m[i]);
    esp::EspSaIn& sa = ips.inbound(b.sa[i]).esp;
    b.opened[i] = esp::esp_inbound_direct(sa);
    if (b.opened[i]) {
      b.result[i] = esp::esp_inbound_open(view, b.info[i], sa, b.op[i], *engine_);
      net::mbuf_commit(b.m[i], view);
    } else {
      b.result[i] = esp::esp_inbound_prepare(view, b.info[i], sa, b.op[i]);
      ++queued;
    }
  }
  if (queued != 0) esp::esp_process(*engine_, {b.op.data(), n});
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = b.m[i];
    auto view = net::mbuf_view(m);
    DropReason r = b.result[i];
    if (r == DropReason::kNone && !b.opened[i]) r = esp::esp_inbound_finish(view, b.op[i]);
    if (r == DropReason::kEspBadIcv && esp::esp_inbound_resync(*engine_, view, b.op[i])) {
      counters_.add(Counter::kEspResynced);
      r = DropReason::kNone;
    }
    if (r != DropReason::kNone) {
      drop(m, r);
      continue;
    }
    net::mbuf_commit(m, view);
    InboundSa& sa = ips.inbound(b.sa[i]);
    // Tunnel mode: parsed by the engine's check right after decryption.
    net::IpPacketInfo inner = b.op[i].inner;
    if ((sa.esp.mode == esp::EspMode::kTransport || inner.family == net::IpFamily::kNone) &&
        net::parse_ip_packet(view.bytes(), inner, false) != DropReason::kNone) {
      drop(m, DropReason::kEspBadInner);
      continue;
    }
    if (sa.has_selector) {
      // RFC 4301 5.2: traffic must match the selector of the SA it came on.
      uint16_t sport, dport;
      net::transport_ports(view.data(), inner, sport, dport);
      if (!sa.selector.matches(spd::Direction::kInbound, net::ip_source(view.bytes(), inner),
                               net::ip_destination(view.bytes(), inner), inner.proto, sport,
                               dport)) {
        drop(m, DropReason::kEspPolicyMismatch);
        continue;
      }
    }
    counters_.add(Counter::kEspDecrypted);
    if (sa.esp.mode == esp::EspMode::kTransport) {
      punt_to_local(m);  // addressed to this gateway itself
    } else if (!net::decrement_ttl(view.data())) {
      drop(m, DropReason::kTtlExceeded);
    } else {
      send_l3(m);
    }
  }
}

}  // namespace tcpsec::pipeline

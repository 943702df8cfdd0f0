// The pseudo-TCP paths of a worker: segments from peers on the public port
// (handshake, keepalive, RST/FIN, data -> decapsulate -> local port) and IKE
// or ESP from the local port towards peers (lookup or open a connection,
// encapsulate, PMTU) plus the connection timers.
#include <rte_cycles.h>
#include <rte_ip_frag.h>
#include <rte_random.h>

#include <cstdio>

#include "dataplane/net/icmp.h"
#include "dataplane/net/mbuf_view.h"
#include "dataplane/pipeline/worker.h"

namespace tcpsec::pipeline {

using ctcp::Connection;
using ctcp::ConnId;
using ctcp::ConnState;
using ctcp::kNoConn;
namespace tf = ctcp::tcp_flags;

namespace {

constexpr uint16_t kIkeHeaderLen = 28;
constexpr uint16_t kNatTPort = 4500;

// Where the IKE header starts in a UDP datagram (after the non-ESP marker
// on port 4500), or 0 if the datagram is not IKE (NAT keepalive,
// UDP-encapsulated ESP, too short).
uint16_t ike_offset(const uint8_t* udp, uint16_t udp_len) {
  uint16_t off = 8;
  bool natt = net::load_be16(udp) == kNatTPort || net::load_be16(udp + 2) == kNatTPort;
  if (natt) {
    if (udp_len < off + 4 || net::load_be32(udp + off) != 0) return 0;
    off += 4;
  }
  if (udp_len < off + kIkeHeaderLen) return 0;
  return off;
}

// Sequence comparison modulo 2^32.
bool seq_after(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) > 0;
}

void advance_rcv_nxt(Connection& c, uint32_t end) {
  uint32_t cur = c.rcv_nxt.load(std::memory_order_relaxed);
  while (seq_after(end, cur) &&
         !c.rcv_nxt.compare_exchange_weak(cur, end, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Worker::send_control(const ctcp::ControlSegment& s) {
  rte_mbuf* m = rte_pktmbuf_alloc(gw_.pool());
  if (!m) {
    drops_.add(DropReason::kNoMbuf);
    return;
  }
  uint16_t len =
      ctcp::build_control_segment({rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m)}, s);
  m->data_len = m->pkt_len = len;
  if (s.flags & tf::kRst) counters_.add(Counter::kCtcpRstSent);
  send_l3(m);
}

static ctcp::ControlSegment reply_to(const Connection& c, uint8_t flags) {
  return {c.key.local,
          c.key.peer,
          c.key.local_port,
          c.key.peer_port,
          c.snd_nxt.load(std::memory_order_relaxed),
          c.rcv_nxt.load(std::memory_order_relaxed),
          flags};
}

void Worker::ctcp_input(const Interface& in, rte_mbuf* m, const net::IpPacketInfo& info) {
  auto view = net::mbuf_view(m);
  ctcp::TcpSegment seg;
  DropReason r = ctcp::parse_tcp_segment(view.bytes(), info, seg);
  if (r != DropReason::kNone) return drop(m, r);
  ctcp::FlowKey key{net::ip_destination(view.bytes(), seg.ip), net::ip_source(view.bytes(), seg.ip),
                    seg.dst_port, seg.src_port};
  auto& table = gw_.connections();
  ConnId id = flows_.lookup(table, key);
  if (id == kNoConn) return ctcp_no_connection(in, m, seg, key);
  Connection& c = table.at(id);
  ConnState state = c.state.load(std::memory_order_acquire);
  // The poll's time, not a TSC read per segment (rdtsc showed in profiles).
  const uint64_t now = burst_tsc_;

  if (seg.flags & tf::kRst) {
    // Accept a reset only near what we expect (RFC 5961 spirit): blind
    // resets need the sequence number within one window.
    uint32_t rcv = c.rcv_nxt.load(std::memory_order_relaxed);
    bool ok = state == ConnState::kSynSent
                  ? (seg.flags & tf::kAck) && seg.ack == c.iss + 1
                  : static_cast<uint32_t>(seg.seq - rcv + ctcp::kWindow) <= 2u * ctcp::kWindow;
    if (!ok) return drop(m, DropReason::kTcpRstOutOfWindow);
    counters_.add(Counter::kCtcpRstReceived);
    rte_pktmbuf_free(m);
    return ctcp_close(id, c, false, CloseReason::kReset);
  }

  switch (state) {
    case ConnState::kSynSent:
      if ((seg.flags & (tf::kSyn | tf::kAck)) == (tf::kSyn | tf::kAck) && seg.ack == c.iss + 1) {
        c.rcv_nxt.store(seg.seq + 1, std::memory_order_relaxed);
        rte_pktmbuf_free(m);
        send_control(reply_to(c, tf::kAck));
        return ctcp_establish(id, c, now);
      }
      return drop(m, DropReason::kTcpNotEstablished);

    case ConnState::kSynReceived:
      if ((seg.flags & tf::kSyn) && !(seg.flags & tf::kAck)) {
        // Our SYN|ACK was lost: the peer retransmitted its SYN.
        rte_pktmbuf_free(m);
        if (seg.seq + 1 == c.rcv_nxt.load(std::memory_order_relaxed)) {
          auto s = reply_to(c, tf::kSyn | tf::kAck);
          s.seq = c.iss;
          send_control(s);
        }
        return;
      }
      if (!(seg.flags & tf::kAck) || seg.ack != c.iss + 1) {
        return drop(m, DropReason::kTcpNotEstablished);
      }
      ctcp_establish(id, c, now);
      break;  // an ACK may carry the first data segment

    case ConnState::kEstablished:
      break;

    default:
      return drop(m, DropReason::kTcpNoConnection);
  }

  if (seg.flags & tf::kSyn) {
    // A SYN on an established connection: the peer may have restarted (or
    // its NAT rebooted). Answer with a challenge ACK (RFC 5961 4): a peer
    // that lost its state answers with RST, and its next SYN opens afresh.
    counters_.add(Counter::kCtcpChallengeAck);
    rte_pktmbuf_free(m);
    return send_control(reply_to(c, tf::kAck));
  }
  if (seg.flags & tf::kFin) {
    counters_.add(Counter::kCtcpFinAnsweredWithRst);
    rte_pktmbuf_free(m);
    return ctcp_close(id, c, true, CloseReason::kFin);
  }
  c.last_rx_tsc.store(now, std::memory_order_relaxed);
  if (seg.flags & tf::kAck) {
    // The peer's ACK, only forward and never beyond what we sent: it bounds
    // how far ahead we may send (ctcp_output).
    uint32_t una = c.snd_una.load(std::memory_order_relaxed);
    if (static_cast<int32_t>(seg.ack - una) > 0 &&
        static_cast<int32_t>(seg.ack - c.snd_nxt.load(std::memory_order_relaxed)) <= 0) {
      c.snd_una.store(seg.ack, std::memory_order_relaxed);
      // Only a peer that acknowledges with pure ACKs (tcpsec's window
      // ACKs) keeps snd_una current while traffic runs one way.
      if (seg.payload_length == 0 && !c.peer_acks_window.load(std::memory_order_relaxed))
        c.peer_acks_window.store(true, std::memory_order_relaxed);
    }
  }
  if (seg.payload_length == 0) {
    counters_.add(Counter::kCtcpKeepalives);  // keepalive or pure ACK
    rte_pktmbuf_free(m);
    return;
  }
  ctcp_data(id, c, m, seg);
}

void Worker::ctcp_data(ConnId id, Connection& c, rte_mbuf* m, const ctcp::TcpSegment& seg) {
  auto view = net::mbuf_view(m);
  ctcp::DecapResult res = ctcp::decapsulate(view, seg, gw_.ctcp().strict_trailer);
  if (res.drop != DropReason::kNone) return drop(m, res.drop);
  net::mbuf_commit(m, view);
  advance_rcv_nxt(c, seg.seq + seg.payload_length);
  // Stateful firewalls track TCP windows: when traffic runs one way, the
  // peer's sequence numbers would leave the window we last acknowledged and
  // conntrack would call its segments invalid. A pure ACK every eighth of
  // a window keeps them in (QuickSec and Cisco never did this): conntrack
  // refuses a segment that starts beyond the last ACK it saw plus 65535, so
  // our ACK must cross the firewall before the sender is that far ahead, and
  // a burst from a fast inner TCP sender covers half a window long before
  // that (tests/e2e/test_ike_tcp.py saw ~6% of a bulk transfer dropped).
  uint32_t rcv = c.rcv_nxt.load(std::memory_order_relaxed);
  if (rcv - c.last_ack_sent.load(std::memory_order_relaxed) >= ctcp::kWindow / 8) {
    c.last_ack_sent.store(rcv, std::memory_order_relaxed);
    counters_.add(Counter::kCtcpWindowAcks);
    send_control(reply_to(c, tf::kAck));
  }
  c.rx_packets.fetch_add(1, std::memory_order_relaxed);
  if (res.proto == ctcp::InnerProto::kIke) {
    counters_.add(Counter::kCtcpDecapIke);
    learn_ike(id, c, m);
    return punt_ike(m, IkeTransport::kPseudoTcp, id);
  } else {
    counters_.add(Counter::kCtcpDecapEsp);
    IpsecState* ips = gw_.ipsec();
    if (ips) {
      auto inner = net::mbuf_view(m);
      net::IpPacketInfo info;
      if (net::parse_ip_packet(inner.bytes(), info, false) == DropReason::kNone &&
          info.proto == net::kProtoEsp && info.l4_length() >= esp::kEspHeaderLen) {
        sad::SaIndex idx =
            ips->inbound_index(inbound_sas_, net::load_be32(inner.data() + info.l3_length),
                               net::ip_destination(inner.bytes(), info));
        if (idx != sad::kNoSa) return esp_input_to(m, info, idx);
      }
    }
  }
  // IKE, and ESP of SAs this dataplane does not hold (relay mode), go to
  // the host behind the LOCAL port.
  punt_to_local(m);
}

void Worker::learn_ike(ConnId id, Connection& c, rte_mbuf* inner) {
  auto view = net::mbuf_view(inner);
  net::IpPacketInfo info;
  if (net::parse_ip_packet(view.bytes(), info, false) != DropReason::kNone) return;
  const uint8_t* udp = view.data() + info.l3_length;
  uint16_t off = ike_offset(udp, info.l4_length());
  if (off == 0) return;
  ctcp::IkeSpis spis{net::load_be64(udp + off), net::load_be64(udp + off + 8)};
  if (spis.initiator == 0) return;
  // Racy read of a slow-path field: at worst we take the writer lock once more.
  if (c.ike[0].initiator == spis.initiator && c.ike[0].responder == spis.responder) return;
  if (c.ike[1].initiator == spis.initiator) return;
  if (gw_.connections().add_ike(id, spis)) counters_.add(Counter::kCtcpIkeMapped);
}

void Worker::ctcp_no_connection(const Interface& in, rte_mbuf* m, const ctcp::TcpSegment& seg,
                                const ctcp::FlowKey& key) {
  if (seg.flags & tf::kRst) return drop(m, DropReason::kTcpNoConnection);
  if (!gw_.is_listener(key.local, key.local_port)) return drop(m, DropReason::kTcpNoConnection);
  uint8_t flags = seg.flags;
  uint32_t seq = seg.seq;
  rte_pktmbuf_free(m);

  if ((flags & tf::kSyn) && !(flags & tf::kAck)) {
    auto& table = gw_.connections();
    auto added = table.add(key, ConnState::kSynReceived, in.port_id, false);
    if (!added) {
      drops_.add(DropReason::kTcpListenerFull);
      return;
    }
    Connection& c = table.at(*added);
    uint64_t now = rte_rdtsc();
    c.iss = static_cast<uint32_t>(rte_rand());
    c.snd_nxt.store(c.iss + 1, std::memory_order_relaxed);
    c.snd_una.store(c.iss + 1, std::memory_order_relaxed);
    c.peer_acks_window.store(false, std::memory_order_relaxed);
    c.rcv_nxt.store(seq + 1, std::memory_order_relaxed);
    c.created_tsc = c.state_tsc = now;
    c.last_rx_tsc.store(now, std::memory_order_relaxed);
    // The peer is usually on-link or behind the next hop we already know;
    // learning its MAC from this SYN saves an ARP round before SYN|ACK.
    net::RouteResult route;
    if (gw_.routes().lookup(key.peer, route) && route.next_hop == key.peer) {
      gw_.neighbors().learn(in.port_id, key.peer, rx_src_mac_);
    }
    gw_.add_handshaking(*added);
    counters_.add(Counter::kCtcpSynReceived);
    auto s = reply_to(c, tf::kSyn | tf::kAck);
    s.seq = c.iss;
    send_control(s);
    return;
  }
  // Anything else to a listener that matches no connection: RST|ACK as a
  // TCP stack would (RFC 793 "reset generation").
  uint32_t len = seg.payload_length + ((flags & tf::kSyn) ? 1 : 0) + ((flags & tf::kFin) ? 1 : 0);
  send_control({key.local, key.peer, key.local_port, key.peer_port,
                (flags & tf::kAck) ? seg.ack : 0, seq + len, tf::kRst | tf::kAck});
}

void Worker::ctcp_establish(ConnId id, Connection& c, uint64_t now) {
  ConnState expected = c.state.load(std::memory_order_acquire);
  if (expected != ConnState::kSynSent && expected != ConnState::kSynReceived) return;
  if (!c.state.compare_exchange_strong(expected, ConnState::kEstablished)) return;
  c.state_tsc = now;
  c.last_ack_sent.store(c.rcv_nxt.load(std::memory_order_relaxed), std::memory_order_relaxed);
  counters_.add(Counter::kCtcpEstablished);
  gw_.note_established(c.key, id);
  post_connection_event(ControlEventType::kConnectionEstablished, c, CloseReason::kNone);
  for (rte_mbuf* m : gw_.held().take(id)) ctcp_output(id, c, m);
}

void Worker::post_connection_event(ControlEventType type, const Connection& c, CloseReason reason) {
  ControlEvent e;
  e.type = type;
  e.reason = reason;
  e.tsc = rte_rdtsc();
  e.local = c.key.local;
  e.peer = c.key.peer;
  e.local_port = c.key.local_port;
  e.peer_port = c.key.peer_port;
  gw_.control().post(e);
}

void Worker::ctcp_close(ConnId id, Connection& c, bool send_rst, CloseReason reason) {
  ConnState s = c.state.load(std::memory_order_acquire);
  if (s == ConnState::kClosing || s == ConnState::kFree) return;
  if (!c.state.compare_exchange_strong(s, ConnState::kClosing)) return;
  // Handshake failures have their own event.
  if (s == ConnState::kEstablished || reason == CloseReason::kDeleted)
    post_connection_event(ControlEventType::kConnectionClosed, c, reason);
  if (send_rst) send_control(reply_to(c, tf::kRst | tf::kAck));
  gw_.held().drop(id);
  gw_.forget_connection(c.key, id);
  gw_.connections().remove(id);
}

void Worker::local_input(rte_mbuf* m) {
  auto view = net::mbuf_view(m);
  net::IpPacketInfo info;
  if (net::parse_ip_packet(view.bytes(), info) != DropReason::kNone) {
    return drop(m, DropReason::kEncapBadInner);
  }
  net::IpAddress src = net::ip_source(view.bytes(), info);
  net::IpAddress dst = net::ip_destination(view.bytes(), info);
  const Interface* owner = gw_.owner_of(src);
  if (!owner || owner->role != PortRole::kPublic) return drop(m, DropReason::kIpNotForUs);
  auto& table = gw_.connections();
  ConnId id = kNoConn;
  if (info.proto == net::kProtoUdp) {
    const uint8_t* udp = view.data() + info.l3_length;
    uint16_t off = info.l4_length() >= 8 ? ike_offset(udp, info.l4_length()) : 0;
    // Only IKE travels over pseudo-TCP: NAT keepalives have no use in TCP
    // and UDP-encapsulated ESP is sent bare (wire-formats.md 1).
    if (off == 0) return drop(m, DropReason::kEncapBadInner);
    uint64_t spi = net::load_be64(udp + off);
    id = table.lookup_ike(src, dst, spi);
    if (id == kNoConn) id = ctcp_open(src, dst, spi);
  } else if (info.proto == net::kProtoEsp) {
    if (info.l4_length() < 8) return drop(m, DropReason::kCtcpInnerEspTruncated);
    uint32_t spi = net::load_be32(view.data() + info.l3_length);
    id = table.lookup_esp(src, dst, spi);
    if (id == kNoConn) {
      id = gw_.latest_connection(src, dst);
      if (id != kNoConn && !table.add_esp(id, spi)) id = kNoConn;
    }
  } else {
    return drop(m, DropReason::kIpUnsupportedProto);
  }
  if (id == kNoConn) return drop(m, DropReason::kEncapNoConnection);
  ctcp_output(id, table.at(id), m);
}

void Worker::inject_ctcp(rte_mbuf* m, uint16_t remote_port) {
  auto view = net::mbuf_view(m);
  net::IpPacketInfo info;
  if (net::parse_ip_packet(view.bytes(), info) != DropReason::kNone ||
      info.proto != net::kProtoUdp || info.l4_length() < 8) {
    return drop(m, DropReason::kIkeInjectBad);
  }
  const uint8_t* udp = view.data() + info.l3_length;
  uint16_t off = ike_offset(udp, info.l4_length());
  if (off == 0) return drop(m, DropReason::kIkeInjectBad);
  net::IpAddress src = net::ip_source(view.bytes(), info);
  net::IpAddress dst = net::ip_destination(view.bytes(), info);
  uint64_t spi = net::load_be64(udp + off);
  auto& table = gw_.connections();
  ConnId id = table.lookup_ike(src, dst, spi);
  if (id == kNoConn) {
    // A new IKE SPI towards a peer we already have a connection with (an
    // IKE SA rekey, or the new SA of a re-authentication) stays on that
    // connection: the old SA's delete and the new SA's traffic share it.
    // (Not when the control plane names another TCP port to open.)
    id = gw_.latest_connection(src, dst);
    if (id != kNoConn && remote_port != 0 && table.at(id).key.peer_port != remote_port)
      id = kNoConn;
    if (id != kNoConn && !table.add_ike(id, {spi, 0})) id = kNoConn;
  }
  if (id == kNoConn) id = ctcp_open(src, dst, spi, 0, remote_port);
  if (id == kNoConn) return drop(m, DropReason::kEncapNoConnection);
  ctcp_output(id, table.at(id), m);
}

ConnId Worker::ctcp_open(const net::IpAddress& local, const net::IpAddress& peer, uint64_t ike_spi,
                         uint32_t esp_spi, uint16_t remote_port) {
  std::optional<TcpPeer> p = gw_.tcp_peer(peer);
  if (remote_port != 0) {
    if (!p || p->remote_port != remote_port) p = TcpPeer{peer, remote_port, 0};
  }
  if (!p) return kNoConn;
  auto& table = gw_.connections();
  const CtcpSettings& cs = gw_.ctcp();
  auto port = table.pick_local_port(local, peer, p->remote_port, p->local_port, cs.local_port_min,
                                    cs.local_port_max);
  if (!port) {
    drops_.add(DropReason::kEncapPortsExhausted);
    return kNoConn;
  }
  net::RouteResult route;
  if (!gw_.routes().lookup(peer, route)) return kNoConn;
  ctcp::FlowKey key{local, peer, *port, p->remote_port};
  auto added = table.add(key, ConnState::kSynSent, route.port, true);
  if (!added) return kNoConn;
  ConnId id = *added;
  bool mapped =
      esp_spi != 0 ? table.add_esp(id, esp_spi).is_ok() : table.add_ike(id, {ike_spi, 0}).is_ok();
  if (!mapped) {
    // Another worker opened a connection for this SA first.
    table.remove(id);
    return esp_spi != 0 ? table.lookup_esp(local, peer, esp_spi)
                        : table.lookup_ike(local, peer, ike_spi);
  }
  Connection& c = table.at(id);
  uint64_t now = rte_rdtsc();
  c.iss = static_cast<uint32_t>(rte_rand());
  c.snd_nxt.store(c.iss + 1, std::memory_order_relaxed);
  c.snd_una.store(c.iss + 1, std::memory_order_relaxed);
  c.peer_acks_window.store(false, std::memory_order_relaxed);
  c.created_tsc = c.state_tsc = now;
  c.last_tx_tsc.store(now, std::memory_order_relaxed);
  gw_.add_handshaking(id);
  counters_.add(Counter::kCtcpSynSent);
  auto s = reply_to(c, tf::kSyn);
  s.seq = c.iss;
  s.ack = 0;
  send_control(s);
  return id;
}

void Worker::ctcp_output(ConnId id, Connection& c, rte_mbuf* m, OutboundSa* sa) {
  ConnState state = c.state.load(std::memory_order_acquire);
  if (state == ConnState::kSynSent || state == ConnState::kSynReceived) {
    if (!gw_.held().hold(id, m, gw_.ctcp().hold_queue_packets)) {
      return drop(m, DropReason::kEncapHoldQueueFull);
    }
    counters_.add(Counter::kCtcpHeld);
    return;
  }
  if (state != ConnState::kEstablished) return drop(m, DropReason::kEncapNoConnection);

  auto view = net::mbuf_view(m);
  net::IpPacketInfo info;
  if (sa != nullptr && sa->esp.outer_family != net::IpFamily::kNone) {
    // Tunnel-mode ESP this worker just built from the SA's outer header
    // template: known without parsing it again.
    const bool v4 = sa->esp.outer_family == net::IpFamily::kV4;
    info.family = sa->esp.outer_family;
    info.l3_length = v4 ? net::kIpv4HeaderLen : net::kIpv6HeaderLen;
    info.packet_length = view.length();
    info.proto_offset = v4 ? 9 : 6;
    info.proto = net::kProtoEsp;
    info.fragment = false;
  } else if (net::parse_ip_packet(view.bytes(), info, /*verify_ipv4_checksum=*/sa == nullptr) !=
             DropReason::kNone) {
    // (Our own transport-mode ESP has a correct header checksum: not checked.)
    return drop(m, DropReason::kEncapBadInner);
  }
  const Interface* out = gw_.interface(c.port_id);
  uint32_t outer_len = uint32_t{info.packet_length} + ctcp::kOverhead;
  bool fragment = false;
  if (out && outer_len > out->mtu) {
    bool df = info.family == net::IpFamily::kV6 || (net::load_be16(view.data() + 6) & 0x4000);
    if (df) return send_packet_too_big(m, static_cast<uint16_t>(out->mtu - ctcp::kOverhead));
    fragment = true;
  }
  // Stateful firewalls (Linux conntrack: "SEQ is over the upper bound")
  // drop a segment that starts beyond the peer's last ACK plus its window.
  // Past that point nothing we send reaches the peer, so its ACK never
  // moves and the connection is dead for good: stay inside the window and
  // drop here instead, without using sequence space (the inner traffic
  // sees a loss, as it would at the firewall). The peer's window ACKs
  // (ctcp_data) move snd_una. Several workers may overshoot by a burst each.
  // QuickSec and Cisco peers never send window ACKs (and replayed or
  // benchmark peers none at all): for them snd_una would stall during
  // one-way traffic, so the limit holds once the peer has shown it ACKs.
  uint32_t advance = ctcp::sequence_advance(info);
  if (c.peer_acks_window.load(std::memory_order_relaxed) &&
      c.snd_nxt.load(std::memory_order_relaxed) + advance -
              c.snd_una.load(std::memory_order_relaxed) >
          ctcp::kWindow) {
    return drop(m, DropReason::kEncapPeerWindowFull);
  }
  uint32_t seq = c.snd_nxt.fetch_add(advance, std::memory_order_relaxed);
  ctcp::SegmentParams params{c.key.local_port, c.key.peer_port, seq,
                             c.rcv_nxt.load(std::memory_order_relaxed)};
  c.last_ack_sent.store(params.ack, std::memory_order_relaxed);
  DropReason r = ctcp::encapsulate(view, info, params);
  if (r != DropReason::kNone) return drop(m, r);
  net::mbuf_commit(m, view);
  c.tx_packets.fetch_add(1, std::memory_order_relaxed);
  c.last_tx_tsc.store(burst_tsc_, std::memory_order_relaxed);
  counters_.add(info.proto == net::kProtoUdp ? Counter::kCtcpEncapIke : Counter::kCtcpEncapEsp);
  // The connection's peer is the SA's: its route and MACs are cached there.
  if (!fragment) return sa != nullptr && sa->has_route ? send_via_sa(m, *sa) : send_l3(m);

  // IPv4 without DF: fragment the outer packet to the egress MTU.
  rte_mbuf* frags[kMaxFragments];
  int32_t n = rte_ipv4_fragment_packet(m, frags, kMaxFragments, out->mtu, gw_.pool(), gw_.pool());
  rte_pktmbuf_free(m);
  if (n < 0) {
    drops_.add(DropReason::kPmtuFragmentFailed);
    return;
  }
  counters_.add(Counter::kPmtuFragmented);
  for (int32_t i = 0; i < n; ++i) {
    // Fragments are chains (direct header + indirect data): flatten them
    // into single segments, which the rest of the path expects.
    if (frags[i]->nb_segs > 1 && rte_pktmbuf_linearize(frags[i]) != 0) {
      drop(frags[i], DropReason::kMultiSegment);
      continue;
    }
    send_l3(frags[i]);
  }
}

void Worker::send_packet_too_big(rte_mbuf* offending, uint16_t mtu) {
  auto view = net::mbuf_view(offending);
  const Interface* local = gw_.local_interface();
  net::IpPacketInfo info;
  net::parse_ip_packet(view.bytes(), info, false);
  // Sourced from our address on the packet's own outer address (it is ours).
  net::IpAddress src = net::ip_source(view.bytes(), info);
  if (local) {
    if (const net::IpAddress* a = local->address(src.family)) src = *a;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(gw_.pool());
  if (!m) return drop(offending, DropReason::kNoMbuf);
  uint16_t len = net::build_packet_too_big({rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m)},
                                           view.bytes(), src, mtu);
  drop(offending, DropReason::kPmtuExceededDf);
  if (len == 0) {
    rte_pktmbuf_free(m);
    return;
  }
  m->data_len = m->pkt_len = len;
  counters_.add(Counter::kPmtuIcmpSent);
  punt_to_local(m);
}

bool Worker::handshake_timer(ConnId id, Connection& c, uint64_t now) {
  const CtcpSettings& cs = gw_.ctcp();
  ConnState s = c.state.load(std::memory_order_acquire);
  if (s != ConnState::kSynSent && s != ConnState::kSynReceived) return false;
  if (now - c.state_tsc > cs.handshake_timeout_tsc) {
    if (s == ConnState::kSynSent) {
      counters_.add(Counter::kCtcpHandshakeFailed);
      for (rte_mbuf* held : gw_.held().take(id)) drop(held, DropReason::kEncapHandshakeFailed);
      post_connection_event(ControlEventType::kHandshakeFailed, c, CloseReason::kHandshakeTimeout);
    }
    ctcp_close(id, c, false, CloseReason::kHandshakeTimeout);
    return false;
  }
  if (s == ConnState::kSynSent &&
      now - c.last_tx_tsc.load(std::memory_order_relaxed) > cs.syn_retransmit_tsc) {
    c.last_tx_tsc.store(now, std::memory_order_relaxed);
    ++c.syn_retries;
    auto seg = reply_to(c, tf::kSyn);
    seg.seq = c.iss;
    seg.ack = 0;
    counters_.add(Counter::kCtcpSynSent);
    send_control(seg);
  }
  return true;
}

void Worker::run_timers(uint64_t now) {
  auto& table = gw_.connections();
  const CtcpSettings& cs = gw_.ctcp();
  // Handshakes are few and need precise timers: they are visited every tick.
  for (ConnId id : gw_.take_handshaking()) {
    if (handshake_timer(id, table.at(id), now)) gw_.add_handshaking(id);
  }
  for (const auto& [port, next_hop] : gw_.next_hops()) {
    net::MacAddress mac;
    if (!gw_.neighbors().lookup(port, next_hop, mac)) solicit(*gw_.interface(port), next_hop);
  }
  // Established connections are swept a slice per tick, so the whole table
  // is visited every ~250 ms (25 ticks) whatever its size.
  uint32_t cap = table.capacity();
  uint32_t slice = cap / 25 + 1;
  for (uint32_t k = 0; k < slice; ++k) {
    ConnId id = timer_cursor_;
    timer_cursor_ = timer_cursor_ + 1 >= cap ? 0 : timer_cursor_ + 1;
    Connection& c = table.at(id);
    if (c.state.load(std::memory_order_acquire) != ConnState::kEstablished || c.installed) {
      continue;
    }
    bool unmapped = c.ike[0].empty() && c.ike[1].empty() && c.esp_sa_count == 0;
    if (unmapped && now - c.state_tsc > cs.ike_grace_tsc) {
      counters_.add(Counter::kCtcpClosedGrace);
      ctcp_close(id, c, true, CloseReason::kGrace);
      continue;
    }
    uint64_t last = std::max(c.last_rx_tsc.load(std::memory_order_relaxed),
                             c.last_tx_tsc.load(std::memory_order_relaxed));
    if (cs.idle_timeout_tsc != 0 && now - std::max(last, c.state_tsc) > cs.idle_timeout_tsc) {
      counters_.add(Counter::kCtcpClosedIdle);
      ctcp_close(id, c, true, CloseReason::kIdle);
    }
  }
  table.reclaim();
}

}  // namespace tcpsec::pipeline

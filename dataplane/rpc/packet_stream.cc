#include "dataplane/rpc/packet_stream.h"

#include <rte_mbuf.h>

#include "dataplane/net/ip_packet.h"
#include "dataplane/net/udp_datagram.h"

namespace tcpsec::rpc {

namespace {

constexpr uint16_t kNatTPort = 4500;
constexpr size_t kIkeHeaderLen = 28;

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

}  // namespace

bool packet_in_from_mbuf(pipeline::Gateway& gw, const rte_mbuf* m, v1::PacketIn& out) {
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  std::span<const uint8_t> bytes(data, rte_pktmbuf_data_len(m));
  net::IpPacketInfo info;
  if (net::parse_ip_packet(bytes, info, false) != DropReason::kNone ||
      info.proto != net::kProtoUdp || info.l4_length() < 8) {
    return false;
  }
  const uint8_t* udp = data + info.l3_length;
  uint16_t sport = be16(udp), dport = be16(udp + 2);
  size_t off = 8;
  if (sport == kNatTPort || dport == kNatTPort) off += 4;  // the non-ESP marker
  if (info.l4_length() < off + kIkeHeaderLen) return false;
  auto transport = static_cast<pipeline::IkeTransport>(m->hash.fdir.lo);
  out.set_transport(transport == pipeline::IkeTransport::kPseudoTcp ? v1::TRANSPORT_PSEUDO_TCP
                                                                    : v1::TRANSPORT_UDP);
  if (const auto* itf = gw.interface(m->port)) out.set_port(itf->name);
  out.set_local_address(net::ip_destination(bytes, info).to_string());
  out.set_peer_address(net::ip_source(bytes, info).to_string());
  out.set_local_port(dport);
  out.set_peer_port(sport);
  if (transport == pipeline::IkeTransport::kPseudoTcp &&
      m->hash.fdir.hi < gw.connections().capacity()) {
    const ctcp::FlowKey key = gw.connections().at(m->hash.fdir.hi).key;
    auto* c = out.mutable_connection();
    c->set_local_address(key.local.to_string());
    c->set_local_port(key.local_port);
    c->set_peer_address(key.peer.to_string());
    c->set_peer_port(key.peer_port);
  }
  out.set_ike(udp + off, info.l4_length() - off);
  return true;
}

Expected<rte_mbuf*> mbuf_from_packet_out(pipeline::Gateway& gw, const v1::PacketOut& p) {
  auto local = net::IpAddress::parse(p.local_address());
  if (!local) return Status::error("PacketOut.local_address: " + local.error());
  const pipeline::Interface* owner = gw.owner_of(*local);
  if (!owner || owner->role != pipeline::PortRole::kPublic) {
    return Status::error("PacketOut.local_address: " + local->to_string() +
                         " is not an address of a PUBLIC port");
  }
  auto peer = net::IpAddress::parse(p.peer_address());
  if (!peer) return Status::error("PacketOut.peer_address: " + peer.error());
  if (peer->family != local->family)
    return Status::error("PacketOut.peer_address: not the family of local_address");
  if (p.local_port() == 0 || p.local_port() > 65535)
    return Status::error("PacketOut.local_port: must be 1..65535");
  if (p.peer_port() == 0 || p.peer_port() > 65535)
    return Status::error("PacketOut.peer_port: must be 1..65535");
  if (p.tcp_peer_port() > 65535) return Status::error("PacketOut.tcp_peer_port: must be 0..65535");
  if (p.ike().size() < kIkeHeaderLen)
    return Status::error("PacketOut.ike: " + std::to_string(p.ike().size()) +
                         " bytes, shorter than an IKE header (28)");
  pipeline::IkeTransport transport;
  switch (p.transport()) {
    case v1::TRANSPORT_UDP:
      transport = pipeline::IkeTransport::kUdp;
      break;
    case v1::TRANSPORT_PSEUDO_TCP:
      transport = pipeline::IkeTransport::kPseudoTcp;
      break;
    default:
      return Status::error("PacketOut.transport: UDP or PSEUDO_TCP");
  }
  rte_mbuf* m = rte_pktmbuf_alloc(gw.pool());
  if (!m) return Status::error("no mbuf free (the dataplane is out of buffers)");
  net::UdpDatagramSpec spec;
  spec.source = *local;
  spec.destination = *peer;
  spec.source_port = static_cast<uint16_t>(p.local_port());
  spec.destination_port = static_cast<uint16_t>(p.peer_port());
  spec.non_esp_marker = p.local_port() == kNatTPort || p.peer_port() == kNatTPort;
  std::span<uint8_t> room(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_tailroom(m));
  uint16_t len = net::write_udp_datagram(
      room, spec, {reinterpret_cast<const uint8_t*>(p.ike().data()), p.ike().size()});
  if (len == 0) {
    size_t room_size = room.size();
    rte_pktmbuf_free(m);
    return Status::error("PacketOut.ike: " + std::to_string(p.ike().size()) +
                         " bytes do not fit in one buffer (" + std::to_string(room_size) +
                         " bytes with headers): use IKE fragmentation (RFC 7383)");
  }
  m->data_len = m->pkt_len = len;
  m->hash.fdir.lo = static_cast<uint32_t>(transport);
  m->hash.fdir.hi = p.tcp_peer_port();
  return m;
}

}  // namespace tcpsec::rpc

#include "dataplane/net/udp_encap.h"

#include <cstring>

namespace tcpsec::net {

NatTKind classify_natt(std::span<const uint8_t> l3, const IpPacketInfo& info) {
  uint16_t len = info.l4_length();
  if (len < kUdpHeaderLen || load_be16(&l3[info.l3_length + 4]) != len) return NatTKind::kMalformed;
  const uint8_t* payload = &l3[info.l3_length + kUdpHeaderLen];
  uint16_t n = static_cast<uint16_t>(len - kUdpHeaderLen);
  if (n == 1 && payload[0] == 0xff) return NatTKind::kKeepalive;
  if (n >= 4 && load_be32(payload) == 0) return NatTKind::kIke;  // non-ESP marker
  if (n >= 8) return NatTKind::kEsp;  // SPI (never 0) and sequence number
  return NatTKind::kMalformed;
}

DropReason udp_encapsulate(PacketBuffer& buf, const IpPacketInfo& info, uint16_t src_port,
                           uint16_t dst_port) {
  if (info.packet_length + uint32_t{kUdpHeaderLen} > 0xffff) return DropReason::kEncapTooBig;
  uint8_t* old_ip = buf.data();
  uint8_t* ip = buf.prepend(kUdpHeaderLen);
  if (!ip) return DropReason::kEncapNoHeadroom;
  move_header(ip, old_ip, info.l3_length);
  uint8_t* udp = ip + info.l3_length;
  uint16_t udp_len = static_cast<uint16_t>(info.l4_length() + kUdpHeaderLen);
  store_be16(udp, src_port);
  store_be16(udp + 2, dst_port);
  store_be16(udp + 4, udp_len);
  store_be16(udp + 6, 0);
  IpPacketInfo out = info;
  out.proto = kProtoUdp;
  out.packet_length = static_cast<uint16_t>(info.packet_length + kUdpHeaderLen);
  ip[info.proto_offset] = kProtoUdp;
  set_ip_payload_length(ip, out, udp_len);
  if (info.family == IpFamily::kV6) {
    store_be16(udp + 6, l4_checksum(ip, out, kProtoUdp, {udp, udp_len}, true));
  }
  return DropReason::kNone;
}

DropReason udp_decapsulate(PacketBuffer& buf, IpPacketInfo& info) {
  if (info.l4_length() < kUdpHeaderLen + 8) return DropReason::kUdpEncapBad;
  uint8_t* ip = buf.data();
  move_header(ip + kUdpHeaderLen, ip, info.l3_length);
  buf.adj(kUdpHeaderLen);
  ip = buf.data();
  info.proto = kProtoEsp;
  info.packet_length = static_cast<uint16_t>(info.packet_length - kUdpHeaderLen);
  ip[info.proto_offset] = kProtoEsp;
  set_ip_payload_length(ip, info, info.l4_length());
  return DropReason::kNone;
}

}  // namespace tcpsec::net

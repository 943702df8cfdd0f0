#include "dataplane/net/nd.h"

#include <cstring>

#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"

namespace tcpsec::net {
namespace {

constexpr uint16_t kNdMessageLen = 24;  // type .. target
constexpr uint16_t kNdPayloadLen = kNdMessageLen + 8;

bool is_multicast_v6(const uint8_t* a) {
  return a[0] == 0xff;
}

bool is_unspecified_v6(const uint8_t* a) {
  for (int i = 0; i < 16; ++i) {
    if (a[i] != 0) return false;
  }
  return true;
}

bool is_solicited_node_v6(const uint8_t* a) {
  static constexpr uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  return std::memcmp(a, kPrefix, sizeof kPrefix) == 0;
}

// Writes Ethernet + IPv6 + an NS/NA with one link-layer address option.
uint16_t write_nd(std::span<uint8_t> out, const MacAddress& eth_dst, const MacAddress& our_mac,
                  const IpAddress& src, const IpAddress& dst, uint8_t type, uint8_t flags,
                  const IpAddress& target, uint8_t option) {
  if (out.size() < kNdFrameLen || !src.is_v6() || !dst.is_v6() || !target.is_v6()) return 0;
  uint8_t* p = out.data();
  write_eth_header(p, eth_dst, our_mac, kEtherTypeIpv6);
  uint8_t* ip = p + kEthHeaderLen;
  store_be32(ip, 0x60000000);  // version 6, traffic class 0, flow label 0
  store_be16(ip + 4, kNdPayloadLen);
  ip[6] = kProtoIcmpv6;
  ip[7] = 255;
  std::memcpy(ip + 8, src.bytes.data(), 16);
  std::memcpy(ip + 24, dst.bytes.data(), 16);
  uint8_t* icmp = ip + kIpv6HeaderLen;
  icmp[0] = type;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, uint32_t{flags} << 24);
  std::memcpy(icmp + 8, target.bytes.data(), 16);
  icmp[24] = option;
  icmp[25] = 1;  // 8 bytes
  our_mac.store(icmp + 26);
  IpPacketInfo info;
  info.family = IpFamily::kV6;
  info.l3_length = kIpv6HeaderLen;
  info.packet_length = kIpv6HeaderLen + kNdPayloadLen;
  store_be16(icmp + 2, l4_checksum(ip, info, kProtoIcmpv6, {icmp, kNdPayloadLen}));
  return kNdFrameLen;
}

}  // namespace

bool is_nd(std::span<const uint8_t> l3) {
  IpPacketInfo info;
  if (parse_ip_packet(l3, info) != DropReason::kNone) return false;
  if (info.family != IpFamily::kV6 || info.proto != kProtoIcmpv6 || info.l4_length() < 1) {
    return false;
  }
  uint8_t type = l3[info.l3_length];
  return type == kNdNeighborSolicitation || type == kNdNeighborAdvertisement;
}

DropReason parse_nd(std::span<const uint8_t> l3, NdInfo& out) {
  IpPacketInfo info;
  if (DropReason r = parse_ip_packet(l3, info); r != DropReason::kNone) return r;
  if (info.family != IpFamily::kV6) return DropReason::kIpBadVersion;
  if (info.proto != kProtoIcmpv6) return DropReason::kIpUnsupportedProto;
  std::span<const uint8_t> icmp = l3.subspan(info.l3_length, info.l4_length());
  if (icmp.size() < 4) return DropReason::kIcmpMalformed;
  uint8_t type = icmp[0];
  if (type != kNdNeighborSolicitation && type != kNdNeighborAdvertisement) {
    return DropReason::kIcmpUnsupportedType;
  }
  if (info.fragment || l3[7] != 255 || icmp[1] != 0 || icmp.size() < kNdMessageLen) {
    return DropReason::kNdMalformed;
  }
  if (l4_checksum(l3.data(), info, kProtoIcmpv6, icmp) != 0) return DropReason::kNdMalformed;
  const uint8_t* target = &icmp[8];
  if (is_multicast_v6(target)) return DropReason::kNdMalformed;

  bool has_link = false;
  MacAddress link;
  uint8_t wanted = type == kNdNeighborSolicitation ? kNdOptSourceLinkAddr : kNdOptTargetLinkAddr;
  for (size_t off = kNdMessageLen; off < icmp.size();) {
    if (icmp.size() - off < 2) return DropReason::kNdMalformed;
    size_t len = size_t{icmp[off + 1]} * 8;
    if (len == 0 || len > icmp.size() - off) return DropReason::kNdMalformed;
    if (icmp[off] == wanted && !has_link) {
      has_link = true;
      link = MacAddress::from(&icmp[off + 2]);  // Ethernet: 6 bytes (RFC 4861 4.6.1)
    }
    off += len;
  }

  const uint8_t* src = &l3[8];
  const uint8_t* dst = &l3[24];
  uint8_t flags = icmp[4];
  bool solicited = type == kNdNeighborAdvertisement && (flags & 0x40) != 0;
  if (type == kNdNeighborSolicitation && is_unspecified_v6(src) &&
      (!is_solicited_node_v6(dst) || has_link)) {
    return DropReason::kNdMalformed;
  }
  if (solicited && is_multicast_v6(dst)) return DropReason::kNdMalformed;

  out.type = type;
  out.source = IpAddress::v6(src);
  out.target = IpAddress::v6(target);
  out.has_link_addr = has_link;
  out.link_addr = link;
  out.solicited = solicited;
  out.override_flag = type == kNdNeighborAdvertisement && (flags & 0x20) != 0;
  out.destination = IpAddress::v6(dst);
  return DropReason::kNone;
}

uint16_t build_neighbor_advertisement(std::span<uint8_t> out, const MacAddress& our_mac,
                                      const IpAddress& our_ip, const IpAddress& dst_ip,
                                      const MacAddress& dst_mac, bool solicited) {
  uint8_t flags = static_cast<uint8_t>((solicited ? 0x40 : 0) | 0x20);  // S, O; R = 0
  return write_nd(out, dst_mac, our_mac, our_ip, dst_ip, kNdNeighborAdvertisement, flags, our_ip,
                  kNdOptTargetLinkAddr);
}

uint16_t build_neighbor_solicitation(std::span<uint8_t> out, const MacAddress& our_mac,
                                     const IpAddress& our_ip, const IpAddress& target) {
  if (!target.is_v6()) return 0;
  IpAddress group = solicited_node_address(target);
  return write_nd(out, ipv6_multicast_mac(group), our_mac, our_ip, group, kNdNeighborSolicitation,
                  0, target, kNdOptSourceLinkAddr);
}

}  // namespace tcpsec::net

#include "dataplane/net/icmp.h"

#include <algorithm>
#include <cstring>

namespace tcpsec::net {
namespace {

constexpr uint16_t kIcmpHeaderLen = 8;
constexpr uint8_t kReplyTtl = 64;

// An address that names a single host and may be answered (RFC 1812
// 4.3.2.7, RFC 4443 2.4 (e)).
bool unicast_source_v4(const uint8_t* a) {
  return a[0] != 0 && a[0] != 127 && a[0] < 224;  // not 0/8, loopback, multicast, class E
}
bool unicast_source_v6(const uint8_t* a) {
  if (a[0] == 0xff) return false;  // multicast
  for (int i = 0; i < 15; ++i) {
    if (a[i] != 0) return true;
  }
  return a[15] > 1;  // not :: nor ::1
}
bool multicast_or_broadcast_v4(const uint8_t* a) {
  return (a[0] & 0xf0) == 0xe0 || (a[0] == 0xff && a[1] == 0xff && a[2] == 0xff && a[3] == 0xff);
}

// ICMPv4 types that are not errors (RFC 792, 950, 1256, 8335); unknown ones
// count as errors, as Linux does.
bool icmpv4_informational(uint8_t type) {
  switch (type) {
    case 0:
    case 8:
    case 9:
    case 10:
    case 13:
    case 14:
    case 15:
    case 16:
    case 17:
    case 18:
    case 42:
    case 43:
      return true;
    default:
      return false;
  }
}

// True if the IPv6 packet has a fragment header with a non-zero offset (or
// its header chain cannot be walked).
bool v6_later_fragment(std::span<const uint8_t> pkt) {
  uint8_t next = pkt[6];
  size_t off = kIpv6HeaderLen;
  for (int hops = 0; hops < 8; ++hops) {
    if (off + 8 > pkt.size()) return true;
    if (next == 44) return (load_be16(&pkt[off + 2]) & 0xfff8) != 0;
    if (next != 0 && next != 43 && next != 60) return false;
    next = pkt[off];
    off += (size_t{pkt[off + 1]} + 1) * 8;
  }
  return true;
}

void swap_bytes(uint8_t* a, uint8_t* b, size_t n) {
  for (size_t i = 0; i < n; ++i) std::swap(a[i], b[i]);
}

DropReason echo_v4(PacketBuffer& l3, const IpPacketInfo& info) {
  uint8_t* ip = l3.data();
  uint8_t* icmp = ip + info.l3_length;
  uint16_t n = info.l4_length();
  if (info.proto != kProtoIcmp) return DropReason::kIpUnsupportedProto;
  if (n < kIcmpHeaderLen || internet_checksum({icmp, n}) != 0) return DropReason::kIcmpMalformed;
  if (icmp[0] != kIcmpEchoRequest) return DropReason::kIcmpUnsupportedType;
  if (icmp[1] != 0) return DropReason::kIcmpMalformed;
  if (!unicast_source_v4(ip + 12)) return DropReason::kIcmpBadSource;
  if (multicast_or_broadcast_v4(ip + 16)) return DropReason::kIpNotForUs;

  if (info.l3_length > kIpv4HeaderLen) {  // drop the options
    std::memmove(ip + kIpv4HeaderLen, icmp, n);
    icmp = ip + kIpv4HeaderLen;
    ip[0] = 0x45;
  }
  uint16_t total = static_cast<uint16_t>(kIpv4HeaderLen + n);
  swap_bytes(ip + 12, ip + 16, 4);
  ip[8] = kReplyTtl;
  store_be16(ip + 2, total);
  set_ipv4_header_checksum(ip);
  icmp[0] = kIcmpEchoReply;
  store_be16(icmp + 2, 0);
  store_be16(icmp + 2, internet_checksum({icmp, n}));
  l3.trim(static_cast<uint16_t>(l3.length() - total));
  return DropReason::kNone;
}

DropReason echo_v6(PacketBuffer& l3, const IpPacketInfo& info) {
  uint8_t* ip = l3.data();
  uint8_t* icmp = ip + info.l3_length;
  uint16_t n = info.l4_length();
  if (info.proto != kProtoIcmpv6) return DropReason::kIpUnsupportedProto;
  if (n < kIcmpHeaderLen || l4_checksum(ip, info, kProtoIcmpv6, {icmp, n}) != 0) {
    return DropReason::kIcmpMalformed;
  }
  if (icmp[0] != kIcmpv6EchoRequest) return DropReason::kIcmpUnsupportedType;
  if (icmp[1] != 0) return DropReason::kIcmpMalformed;
  if (!unicast_source_v6(ip + 8)) return DropReason::kIcmpBadSource;
  if (ip[24] == 0xff) return DropReason::kIpNotForUs;  // multicast destination

  if (info.l3_length > kIpv6HeaderLen) {  // drop the extension headers
    std::memmove(ip + kIpv6HeaderLen, icmp, n);
    icmp = ip + kIpv6HeaderLen;
    ip[6] = kProtoIcmpv6;
  }
  swap_bytes(ip + 8, ip + 24, 16);
  ip[7] = kReplyTtl;
  store_be16(ip + 4, n);
  icmp[0] = kIcmpv6EchoReply;
  store_be16(icmp + 2, 0);
  IpPacketInfo reply;
  reply.family = IpFamily::kV6;
  reply.l3_length = kIpv6HeaderLen;
  reply.packet_length = static_cast<uint16_t>(kIpv6HeaderLen + n);
  store_be16(icmp + 2, l4_checksum(ip, reply, kProtoIcmpv6, {icmp, n}));
  l3.trim(static_cast<uint16_t>(l3.length() - reply.packet_length));
  return DropReason::kNone;
}

}  // namespace

DropReason make_echo_reply(PacketBuffer& l3, const IpPacketInfo& info) {
  if (info.l3_length > info.packet_length || info.packet_length > l3.length()) {
    return DropReason::kIpBadTotalLength;  // `info` does not describe `l3`
  }
  if (info.fragment) return DropReason::kIpFragment;
  switch (info.family) {
    case IpFamily::kV4:
      if (info.l3_length < kIpv4HeaderLen) return DropReason::kIpBadHeaderLength;
      return echo_v4(l3, info);
    case IpFamily::kV6:
      if (info.l3_length < kIpv6HeaderLen) return DropReason::kIpBadHeaderLength;
      return echo_v6(l3, info);
    default:
      return DropReason::kIpBadVersion;
  }
}

uint16_t build_packet_too_big(std::span<uint8_t> out, std::span<const uint8_t> offending,
                              const IpAddress& src, uint16_t mtu) {
  IpPacketInfo info;
  if (parse_ip_packet(offending, info, false) != DropReason::kNone) return 0;
  if (src.family != info.family) return 0;
  const uint8_t* o = offending.data();
  const uint8_t* l4 = o + info.l3_length;
  uint16_t l4_len = info.l4_length();
  uint8_t* p = out.data();

  if (info.family == IpFamily::kV4) {
    if ((load_be16(o + 6) & 0x1fff) != 0) return 0;  // not the first fragment
    if (!unicast_source_v4(o + 12) || multicast_or_broadcast_v4(o + 16)) return 0;
    if (info.proto == kProtoIcmp && (l4_len < 1 || !icmpv4_informational(l4[0]))) return 0;
    uint16_t quote = std::min<uint16_t>(info.packet_length,
                                        kIcmpv4ErrorMaxLen - kIpv4HeaderLen - kIcmpHeaderLen);
    uint16_t total = static_cast<uint16_t>(kIpv4HeaderLen + kIcmpHeaderLen + quote);
    if (out.size() < total) return 0;
    p[0] = 0x45;
    p[1] = 0xc0;  // internetwork control (RFC 1812 4.3.2.5)
    store_be16(p + 2, total);
    store_be16(p + 4, 0);       // ID: an atomic datagram (RFC 6864)
    store_be16(p + 6, 0x4000);  // DF
    p[8] = kReplyTtl;
    p[9] = kProtoIcmp;
    std::memcpy(p + 12, src.bytes.data(), 4);
    std::memcpy(p + 16, o + 12, 4);
    set_ipv4_header_checksum(p);
    uint8_t* icmp = p + kIpv4HeaderLen;
    icmp[0] = kIcmpDestUnreachable;
    icmp[1] = kIcmpCodeFragNeeded;
    store_be16(icmp + 2, 0);
    store_be16(icmp + 4, 0);
    store_be16(icmp + 6, mtu);
    std::memcpy(icmp + kIcmpHeaderLen, o, quote);
    uint16_t n = static_cast<uint16_t>(kIcmpHeaderLen + quote);
    store_be16(icmp + 2, internet_checksum({icmp, n}));
    return total;
  }

  if (!unicast_source_v6(o + 8)) return 0;
  if (info.proto == kProtoIcmpv6) {
    // RFC 4443 2.4 (e.1): no error about an error (types below 128).
    if (info.fragment && v6_later_fragment(offending)) return 0;
    if (l4_len < 1 || l4[0] < 128) return 0;
  }
  uint16_t quote =
      std::min<uint16_t>(info.packet_length, kIcmpv6ErrorMaxLen - kIpv6HeaderLen - kIcmpHeaderLen);
  uint16_t n = static_cast<uint16_t>(kIcmpHeaderLen + quote);
  uint16_t total = static_cast<uint16_t>(kIpv6HeaderLen + n);
  if (out.size() < total) return 0;
  store_be32(p, 0x60000000);
  store_be16(p + 4, n);
  p[6] = kProtoIcmpv6;
  p[7] = kReplyTtl;
  std::memcpy(p + 8, src.bytes.data(), 16);
  std::memcpy(p + 24, o + 8, 16);
  uint8_t* icmp = p + kIpv6HeaderLen;
  icmp[0] = kIcmpv6PacketTooBig;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, mtu);
  std::memcpy(icmp + kIcmpHeaderLen, o, quote);
  IpPacketInfo reply;
  reply.family = IpFamily::kV6;
  reply.l3_length = kIpv6HeaderLen;
  reply.packet_length = total;
  store_be16(icmp + 2, l4_checksum(p, reply, kProtoIcmpv6, {icmp, n}));
  return total;
}

}  // namespace tcpsec::net

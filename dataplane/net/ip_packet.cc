#include "dataplane/net/ip_packet.h"

#include <rte_ip.h>

namespace tcpsec::net {
namespace {

constexpr uint8_t kV6HopByHop = 0;
constexpr uint8_t kV6Routing = 43;
constexpr uint8_t kV6Fragment = 44;
constexpr uint8_t kV6DestOpts = 60;
constexpr uint8_t kV6NoNext = 59;

DropReason parse_v4(std::span<const uint8_t> pkt, IpPacketInfo& info, bool verify) {
  if (pkt.size() < kIpv4HeaderLen) return DropReason::kIpTruncated;
  uint16_t ihl = static_cast<uint16_t>((pkt[0] & 0x0f) * 4);
  if (ihl < kIpv4HeaderLen) return DropReason::kIpBadHeaderLength;
  if (pkt.size() < ihl) return DropReason::kIpTruncated;
  uint16_t total = load_be16(&pkt[2]);
  if (total < ihl || total > pkt.size()) return DropReason::kIpBadTotalLength;
  if (verify && internet_checksum(pkt.first(ihl)) != 0) return DropReason::kIpBadChecksum;
  uint16_t frag = load_be16(&pkt[6]);
  info.family = IpFamily::kV4;
  info.l3_length = ihl;
  info.packet_length = total;
  info.proto_offset = 9;
  info.proto = pkt[9];
  info.fragment = (frag & 0x3fff) != 0;  // MF set or offset non-zero
  return DropReason::kNone;
}

DropReason parse_v6(std::span<const uint8_t> pkt, IpPacketInfo& info) {
  if (pkt.size() < kIpv6HeaderLen) return DropReason::kIpTruncated;
  uint32_t total = uint32_t{load_be16(&pkt[4])} + kIpv6HeaderLen;
  // IpPacketInfo (and PacketBuffer) lengths are 16 bits: a payload length
  // above 65495 cannot be represented and would wrap.
  if (total > pkt.size() || total > 0xffff) return DropReason::kIpBadTotalLength;
  // Jumbograms (payload length 0 with a hop-by-hop option) are not supported:
  // they cannot occur on an Ethernet MTU and a zero length is refused below.
  uint16_t proto_offset = 6;
  uint8_t next = pkt[6];
  uint32_t off = kIpv6HeaderLen;
  bool fragment = false;
  for (int hops = 0;; ++hops) {
    if (next != kV6HopByHop && next != kV6Routing && next != kV6DestOpts && next != kV6Fragment) {
      break;
    }
    if (hops >= 8) return DropReason::kIpv6ExtHeaderUnsupported;  // bounded walk
    if (off + 8 > total) return DropReason::kIpv6ExtHeaderTruncated;
    uint32_t len = next == kV6Fragment ? 8 : (uint32_t{pkt[off + 1]} + 1) * 8;
    if (off + len > total) return DropReason::kIpv6ExtHeaderTruncated;
    if (next == kV6Fragment) fragment = true;
    proto_offset = static_cast<uint16_t>(off);
    next = pkt[off];
    off += len;
  }
  if (next == kV6NoNext) return DropReason::kIpUnsupportedProto;
  info.family = IpFamily::kV6;
  info.l3_length = static_cast<uint16_t>(off);
  info.packet_length = static_cast<uint16_t>(total);
  info.proto_offset = proto_offset;
  info.proto = next;
  info.fragment = fragment;
  return DropReason::kNone;
}

}  // namespace

DropReason parse_ip_packet(std::span<const uint8_t> pkt, IpPacketInfo& info,
                           bool verify_ipv4_checksum) {
  if (pkt.empty()) return DropReason::kIpTruncated;
  switch (pkt[0] >> 4) {
    case 4:
      return parse_v4(pkt, info, verify_ipv4_checksum);
    case 6:
      return parse_v6(pkt, info);
    default:
      return DropReason::kIpBadVersion;
  }
}

IpAddress ip_source(std::span<const uint8_t> pkt, const IpPacketInfo& info) {
  return info.family == IpFamily::kV4 ? IpAddress::v4(&pkt[12]) : IpAddress::v6(&pkt[8]);
}

IpAddress ip_destination(std::span<const uint8_t> pkt, const IpPacketInfo& info) {
  return info.family == IpFamily::kV4 ? IpAddress::v4(&pkt[16]) : IpAddress::v6(&pkt[24]);
}

void set_ipv4_header_checksum(uint8_t* ip) {
  uint16_t ihl = static_cast<uint16_t>((ip[0] & 0x0f) * 4);
  ip[10] = ip[11] = 0;
  store_be16(ip + 10, internet_checksum({ip, ihl}));
}

void set_ip_payload_length(uint8_t* ip, const IpPacketInfo& info, uint16_t l4_length) {
  uint16_t total = static_cast<uint16_t>(info.l3_length + l4_length);
  if (info.family == IpFamily::kV4) {
    store_be16(ip + 2, total);
    set_ipv4_header_checksum(ip);
  } else {
    store_be16(ip + 4, static_cast<uint16_t>(total - kIpv6HeaderLen));
  }
}

uint16_t internet_checksum(std::span<const uint8_t> data) {
  // rte_raw_cksum returns the folded one's-complement sum in host order of
  // 16-bit big-endian words read natively; we store it byte-swapped below.
  uint16_t sum = rte_raw_cksum(data.data(), data.size());
  uint16_t folded = static_cast<uint16_t>(~sum);
  return rte_be_to_cpu_16(folded);
}

uint16_t l4_checksum(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                     std::span<const uint8_t> l4, bool udp) {
  uint32_t sum;
  uint32_t len = static_cast<uint32_t>(l4.size());
  if (info.family == IpFamily::kV4) {
    sum = __rte_raw_cksum(ip + 12, 8, 0);  // source and destination
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(proto));
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(len));
  } else {
    sum = __rte_raw_cksum(ip + 8, 32, 0);
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(len >> 16));
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(len));
    sum += rte_cpu_to_be_16(static_cast<uint16_t>(proto));
  }
  sum = __rte_raw_cksum(l4.data(), l4.size(), sum);
  uint16_t folded = static_cast<uint16_t>(~__rte_raw_cksum_reduce(sum));
  uint16_t value = rte_be_to_cpu_16(folded);
  if (udp && value == 0) value = 0xffff;
  return value;
}

}  // namespace tcpsec::net

// Parsing and checksums of an L3 packet (IPv4, or IPv6 with its extension
// headers) held at the start of a PacketBuffer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "dataplane/net/ip_address.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kProtoAh = 51;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoIpcomp = 108;
inline constexpr uint16_t kIpv4HeaderLen = 20;
inline constexpr uint16_t kIpv6HeaderLen = 40;

// What the framing code needs to know about an L3 packet.
struct IpPacketInfo {
  IpFamily family = IpFamily::kNone;
  uint16_t l3_length = 0;      // IP header plus IPv6 extension headers
  uint16_t packet_length = 0;  // from the IP length fields; <= buffer length
  uint16_t proto_offset = 0;   // offset of the byte naming the upper protocol
  uint8_t proto = 0;           // upper-layer protocol (after extension headers)
  bool fragment = false;       // IPv4 MF/offset, or an IPv6 fragment header

  uint16_t l4_length() const { return static_cast<uint16_t>(packet_length - l3_length); }
};

// The one's complement sum of a 20-byte IPv4 header in host-order words,
// folded: five 32-bit words added in 64 bits, no loop and no call - every
// routed packet's header is checked or written here. It is 0xffff when the
// header's checksum is right. Without `with_checksum` the checksum field
// counts as zero (masked in a register, not cleared in memory).
inline uint16_t ipv4_header20_sum(const uint8_t* ip, bool with_checksum = true) {
  static_assert(std::endian::native == std::endian::little);
  // Three scalar loads: copied into a word array, GCC loaded the header
  // into a vector register, stored it on the stack and read the words back
  // at offsets the store could not forward (a fifth of parse_ip_packet).
  uint64_t a, b;
  uint32_t c;
  std::memcpy(&a, ip, 8);
  std::memcpy(&b, ip + 8, 8);
  std::memcpy(&c, ip + 16, 4);
  if (!with_checksum) b &= ~(uint64_t{0xffff} << 16);  // bytes 10-11
  uint64_t s = (a & 0xffffffff) + (a >> 32) + (b & 0xffffffff) + (b >> 32) + c;
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// What parse_ip_packet() gives for an IPv4 packet with a 20-byte header.
inline IpPacketInfo ipv4_info(uint16_t total, uint8_t proto, bool fragment) {
  return {.family = IpFamily::kV4,
          .l3_length = kIpv4HeaderLen,
          .packet_length = total,
          .proto_offset = 9,
          .proto = proto,
          .fragment = fragment};
}

// The usual IPv4 header - 20 bytes, no options, checksum right, total
// length within the `avail` bytes at `ip` - parsed inline for the fast
// paths, into what parse_ip_packet() would give. False for anything else,
// which parse_ip_packet() then handles (and names the reason when it is an
// error).
inline bool parse_ipv4_plain(const uint8_t* ip, size_t avail, IpPacketInfo& info) {
  if (avail < kIpv4HeaderLen || ip[0] != 0x45) return false;
  const uint16_t total = load_be16(ip + 2);
  if (total < kIpv4HeaderLen || total > avail || ipv4_header20_sum(ip) != 0xffff) return false;
  info = ipv4_info(total, ip[9], (load_be16(ip + 6) & 0x3fff) != 0);  // MF set or offset non-zero
  return true;
}

// What parse_ip_packet() gives for an IPv6 packet without extension headers.
inline IpPacketInfo ipv6_info(uint16_t total, uint8_t proto) {
  return {.family = IpFamily::kV6,
          .l3_length = kIpv6HeaderLen,
          .packet_length = total,
          .proto_offset = 6,
          .proto = proto,
          .fragment = false};
}

// The usual IPv6 packet - no extension header, TCP or UDP straight after
// the fixed header, whole within `avail` - parsed as parse_ip_packet()
// would: the protected path's fast pass. False for any other (a fragment,
// ICMPv6 and ND, extension headers: the generic parse takes them).
inline bool parse_ipv6_plain(const uint8_t* ip, size_t avail, IpPacketInfo& info) {
  if (avail < kIpv6HeaderLen || (ip[0] >> 4) != 6) return false;
  const uint8_t next = ip[6];
  if (next != kProtoTcp && next != kProtoUdp) return false;
  const uint32_t total = uint32_t{load_be16(ip + 4)} + kIpv6HeaderLen;
  if (total > avail || total > 0xffff) return false;
  info = ipv6_info(static_cast<uint16_t>(total), next);
  return true;
}

// The transport ports of a parsed packet, in host order: 0 and 0 for
// protocols without them (other than TCP, UDP, SCTP), fragments and
// segments too short to hold them.
inline void transport_ports(const uint8_t* ip, const IpPacketInfo& info, uint16_t& src,
                            uint16_t& dst) {
  src = dst = 0;
  const bool has_ports = info.proto == kProtoTcp || info.proto == kProtoUdp || info.proto == 132;
  if (!has_ports || info.fragment || info.l4_length() < 4) return;
  src = load_be16(ip + info.l3_length);
  dst = load_be16(ip + info.l3_length + 2);
}

// Parses and validates the IP header(s) at the start of `pkt`. Link-layer
// padding past the IP length is allowed (the caller trims it). IPv4 header
// checksums are verified when `verify_ipv4_checksum` is set.
DropReason parse_ip_packet(std::span<const uint8_t> pkt, IpPacketInfo& info,
                           bool verify_ipv4_checksum = true);

IpAddress ip_source(std::span<const uint8_t> pkt, const IpPacketInfo& info);
IpAddress ip_destination(std::span<const uint8_t> pkt, const IpPacketInfo& info);

// Rewrites the IP length field(s) for a new upper-layer length and, for IPv4,
// the header checksum.
void set_ip_payload_length(uint8_t* ip, const IpPacketInfo& info, uint16_t l4_length);
void set_ipv4_header_checksum(uint8_t* ip);

// Internet checksum of an upper-layer segment (TCP, UDP, ICMPv6) with the
// pseudo-header of RFC 793 / RFC 8200 section 8.1. Returns the value to store
// (0 is returned as 0xffff only when `udp` is set, per RFC 768).
uint16_t l4_checksum(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                     std::span<const uint8_t> l4, bool udp = false);

// Plain RFC 1071 checksum over `data` (ICMPv4, IPv4 header).
uint16_t internet_checksum(std::span<const uint8_t> data);

// Checksums assembled from parts (RFC 1071, RFC 1624). A "sum" is the 16-bit
// one's complement sum of big-endian 16-bit words, in host order and not yet
// complemented (an odd trailing byte is padded with a zero byte). 0 and 0xffff
// are the two one's complement zeros: the final value is the same either way
// as long as the sum includes a pseudo-header (never zero), which is how
// checksum_finish is meant to be used.
//
//   l4_checksum(ip, info, p, l4, udp) ==
//       checksum_finish(checksum_add(pseudo_header_sum(ip, info, p, l4.size()),
//                                    checksum_sum(l4)), udp)
uint16_t checksum_sum(std::span<const uint8_t> data);

inline uint16_t checksum_add(uint16_t a, uint16_t b) {
  uint32_t s = uint32_t{a} + b;
  return static_cast<uint16_t>((s & 0xffff) + (s >> 16));
}
inline uint16_t checksum_sub(uint16_t a, uint16_t b) {
  return checksum_add(a, static_cast<uint16_t>(~b));
}
// The sum of the same bytes placed at an odd offset of a larger sum.
inline uint16_t checksum_swap(uint16_t sum) {
  return static_cast<uint16_t>(sum << 8 | sum >> 8);
}

// Sum of the pseudo-header for an upper-layer segment of `l4_length` bytes.
uint16_t pseudo_header_sum(const uint8_t* ip, const IpPacketInfo& info, uint8_t proto,
                           uint32_t l4_length);

// Sets an IPv4 header's protocol and total length and updates its checksum
// from the old and new values (RFC 1624 eqn. 3): no pass over the header,
// nothing read back right after it was written (which stalls on store
// forwarding). A header whose checksum was right stays right. For the
// framings that only change these two fields (pseudo-TCP in and out).
inline void rewrite_ipv4_proto_and_length(uint8_t* ip, uint8_t proto, uint16_t total) {
  const uint16_t old_word = load_be16(ip + 8);  // TTL, protocol
  const uint16_t new_word = static_cast<uint16_t>((old_word & 0xff00) | proto);
  uint16_t sum = static_cast<uint16_t>(~load_be16(ip + 10));
  sum = checksum_add(checksum_sub(sum, old_word), new_word);
  sum = checksum_add(checksum_sub(sum, load_be16(ip + 2)), total);
  ip[9] = proto;
  store_be16(ip + 2, total);
  store_be16(ip + 10, static_cast<uint16_t>(~sum));
}

// The checksum field value for a complete sum (0 becomes 0xffff for UDP).
inline uint16_t checksum_finish(uint16_t sum, bool udp = false) {
  uint16_t value = static_cast<uint16_t>(~sum);
  return udp && value == 0 ? 0xffff : value;
}

}  // namespace tcpsec::net

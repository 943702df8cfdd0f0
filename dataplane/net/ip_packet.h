// Parsing and checksums of an L3 packet (IPv4, or IPv6 with its extension
// headers) held at the start of a PacketBuffer.
#pragma once

#include <cstdint>
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
  uint16_t l3_length = 0;        // IP header plus IPv6 extension headers
  uint16_t packet_length = 0;    // from the IP length fields; <= buffer length
  uint16_t proto_offset = 0;     // offset of the byte naming the upper protocol
  uint8_t proto = 0;             // upper-layer protocol (after extension headers)
  bool fragment = false;         // IPv4 MF/offset, or an IPv6 fragment header

  uint16_t l4_length() const { return static_cast<uint16_t>(packet_length - l3_length); }
};

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

}  // namespace tcpsec::net

// ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) as the gateway needs them: echo
// replies for its own addresses and "packet too big" errors for path MTU
// discovery.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/net/ip_address.h"
#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

inline constexpr uint8_t kIcmpEchoReply = 0;
inline constexpr uint8_t kIcmpDestUnreachable = 3;
inline constexpr uint8_t kIcmpEchoRequest = 8;
inline constexpr uint8_t kIcmpCodeFragNeeded = 4;
inline constexpr uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr uint8_t kIcmpv6EchoRequest = 128;
inline constexpr uint8_t kIcmpv6EchoReply = 129;
inline constexpr uint16_t kIcmpv4ErrorMaxLen = 576;   // RFC 1812 4.3.2.3
inline constexpr uint16_t kIcmpv6ErrorMaxLen = 1280;  // RFC 4443 2.4 (c)

// Turns an ICMPv4 or ICMPv6 echo request (`l3` starts at the IP header,
// already parsed as `info`) into the echo reply in place: addresses swapped,
// type set, TTL / hop limit 64, checksums fixed. IPv4 options and IPv6
// extension headers are not reflected: they are removed (the message moves
// down to follow the fixed header), and link padding is trimmed, so on
// success l3.length() is the reply's length. The caller checks that the
// destination is ours.
// Returns kIcmpMalformed for a bad checksum, a short message or a non-zero
// code; kIcmpUnsupportedType for other ICMP types; kIpUnsupportedProto if it
// is not ICMP; kIpFragment for a fragment; kIcmpBadSource if the source is
// not a unicast address; kIpNotForUs for a multicast or broadcast
// destination. The packet is unchanged unless kNone is returned.
DropReason make_echo_reply(PacketBuffer& l3, const IpPacketInfo& info);

// Writes an IP packet: ICMPv4 type 3 code 4 "fragmentation needed" with the
// next-hop MTU (RFC 1191), or ICMPv6 type 2 "packet too big" (RFC 4443), from
// `src` to the offending packet's source, quoting the offending packet
// (IPv4: from its IP header, as much as keeps the ICMP packet <= 576 bytes;
// IPv6: <= 1280 bytes). The IPv4 header has TOS 0xc0, DF, ID 0 and TTL 64;
// the IPv6 header hop limit 64.
// Returns the length, or 0 if `out` is too small or no error may be sent: the
// offending packet does not parse, is itself an ICMP error, is an IPv4
// fragment other than the first (or an IPv6 one whose ICMPv6 type cannot be
// seen), comes from a multicast, unspecified, loopback or (IPv4) broadcast /
// class E source, is an IPv4 multicast or broadcast, or `src` is of the
// other family.
uint16_t build_packet_too_big(std::span<uint8_t> out, std::span<const uint8_t> offending,
                              const IpAddress& src, uint16_t mtu);

}  // namespace tcpsec::net

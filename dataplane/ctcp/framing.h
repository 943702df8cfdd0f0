// Pseudo-TCP framing: pure functions over a PacketBuffer that starts at the
// IP header. No state, no allocation; the connection logic decides sequence
// numbers and which function to call.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/ctcp/ctcp_trailer.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::ctcp {

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
}  // namespace tcp_flags

inline constexpr uint16_t kWindow = 65535;  // fixed, as QuickSec

// A parsed, checksum-verified TCP segment.
struct TcpSegment {
  net::IpPacketInfo ip;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t tcp_header_length = 0;
  uint16_t payload_offset = 0;  // from the start of the IP header
  uint16_t payload_length = 0;
  // The TCP checksum was verified (parse_tcp_segment with verify_checksum):
  // decapsulate() then derives the IPv6 inner UDP checksum from it instead of
  // making a second pass over the packet. A caller that changes the segment
  // between parse and decapsulate must clear it.
  bool checksum_verified = false;
};

// Parses the IP and TCP headers at the start of `l3`. Verifies the IPv4
// header checksum and, when `verify_checksum`, the TCP checksum.
DropReason parse_tcp_segment(std::span<const uint8_t> l3, TcpSegment& seg,
                             bool verify_checksum = true);
// The same for a packet whose IP header(s) the caller already parsed (with
// the IPv4 header checksum verified) as `ip`: they are not parsed again.
DropReason parse_tcp_segment(std::span<const uint8_t> l3, const net::IpPacketInfo& ip,
                             TcpSegment& seg, bool verify_checksum = true);

struct SegmentParams {
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t seq;
  uint32_t ack;
};

// Sequence space one encapsulated packet takes: its inner payload + trailer.
inline uint32_t sequence_advance(const net::IpPacketInfo& inner) {
  return uint32_t{inner.l4_length()} + kTrailerLen;
}

// Turns the IP packet in `buf` (IPv4 or IPv6, carrying UDP for IKE or ESP)
// into a pseudo-TCP data segment in place: TCP header inserted after the IP
// header and its extension headers, trailer appended, inner UDP checksum
// zeroed, lengths and checksums fixed. `inner` is the parse of `buf`. An
// inner UDP header whose length field is not the inner length is refused
// (kCtcpInnerUdpBadLength), as decapsulate() would refuse the segment.
DropReason encapsulate(net::PacketBuffer& buf, const net::IpPacketInfo& inner,
                       const SegmentParams& params);

struct DecapResult {
  DropReason drop = DropReason::kNone;
  InnerProto proto = InnerProto::kEsp;
};

// Turns a pseudo-TCP data segment (parsed as `seg`, non-empty payload) back
// into the inner IP packet in place: trailer checked and removed, TCP header
// removed, IPv4 header checksum recomputed, inner UDP checksum cleared on
// IPv4 and recomputed on IPv6. On failure `buf` is unchanged.
DecapResult decapsulate(net::PacketBuffer& buf, const TcpSegment& seg, bool strict_trailer);

struct ControlSegment {
  net::IpAddress src;
  net::IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  uint32_t seq;
  uint32_t ack;
  uint8_t flags;
};

inline constexpr uint16_t kMaxControlSegmentLen = net::kIpv6HeaderLen + kTcpHeaderLen;

// Writes a header-only segment (SYN, SYN|ACK, ACK, RST, RST|ACK) as a fresh
// IP packet into `out`; returns its length, or 0 if `out` is too small.
uint16_t build_control_segment(std::span<uint8_t> out, const ControlSegment& s);

}  // namespace tcpsec::ctcp

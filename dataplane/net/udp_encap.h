// UDP encapsulation of ESP (RFC 3948): a UDP header between the IP header
// and the ESP header, on port 4500 by default. Pure functions over a
// PacketBuffer that starts at the IP header.
#pragma once

#include <cstdint>

#include "dataplane/net/ip_packet.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

inline constexpr uint16_t kUdpHeaderLen = 8;
inline constexpr uint16_t kNatTPort = 4500;

// What a UDP datagram on a NAT-T port holds (RFC 3948 2.2, RFC 7296 2.23).
enum class NatTKind : uint8_t { kEsp, kIke, kKeepalive, kMalformed };

// Classifies the UDP payload of `l3` (parsed as `info`, protocol UDP).
NatTKind classify_natt(std::span<const uint8_t> l3, const IpPacketInfo& info);

// Inserts a UDP header (src_port -> dst_port) after the IP header of the ESP
// packet in `buf`; the IP protocol becomes UDP; lengths and checksums fixed
// (UDP checksum zero on IPv4 as RFC 3948 allows, computed on IPv6).
DropReason udp_encapsulate(PacketBuffer& buf, const IpPacketInfo& info, uint16_t src_port,
                           uint16_t dst_port);

// Removes the UDP header of a UDP-encapsulated ESP packet: the packet
// becomes plain ESP (protocol 50). `info` is updated.
DropReason udp_decapsulate(PacketBuffer& buf, IpPacketInfo& info);

}  // namespace tcpsec::net

// ARP for Ethernet/IPv4 (RFC 826): parsing requests and replies, answering
// for our addresses, and asking for a neighbour's MAC.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/net/ethernet.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

inline constexpr uint16_t kArpLen = 28;  // Ethernet/IPv4 ARP body
inline constexpr uint16_t kArpOpRequest = 1;
inline constexpr uint16_t kArpOpReply = 2;

struct ArpInfo {
  uint16_t op;
  MacAddress sender_mac;
  IpAddress sender_ip;
  MacAddress target_mac;
  IpAddress target_ip;
};

// `arp` starts after the Ethernet header (trailing padding allowed). Accepts
// only Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4) with op 1 or 2
// and a unicast sender MAC; everything else is kArpMalformed. A sender IP of
// 0.0.0.0 (an RFC 5227 probe) is accepted: the caller must not learn it.
DropReason parse_arp(std::span<const uint8_t> arp, ArpInfo& out);

// Turns the ARP request frame in `frame` (starting at the Ethernet header)
// into our reply in place: we answer for request.target_ip with our_mac, to
// the requester's MAC. The frame becomes 60 bytes (zero padded) when its
// tailroom allows, else 42; the caller checks that target_ip is ours.
void make_arp_reply(PacketBuffer& frame, const ArpInfo& request, const MacAddress& our_mac);

// Writes a broadcast ARP request frame (Ethernet + ARP, zero padded to 60
// bytes); returns its length, or 0 if `out` is too small or an address is not
// IPv4.
uint16_t build_arp_request(std::span<uint8_t> out, const MacAddress& src_mac,
                           const IpAddress& src_ip, const IpAddress& target);

}  // namespace tcpsec::net

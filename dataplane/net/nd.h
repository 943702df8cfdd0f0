// IPv6 neighbour discovery (RFC 4861): neighbour solicitation (NS) and
// advertisement (NA) on Ethernet.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/net/ethernet.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

inline constexpr uint8_t kNdNeighborSolicitation = 135;
inline constexpr uint8_t kNdNeighborAdvertisement = 136;
inline constexpr uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr uint8_t kNdOptTargetLinkAddr = 2;
// Ethernet + IPv6 + NS/NA (24) + one link-layer address option (8).
inline constexpr uint16_t kNdFrameLen = 14 + 40 + 24 + 8;

struct NdInfo {
  uint8_t type;  // 135 NS, 136 NA
  IpAddress source;
  IpAddress target;
  bool has_link_addr;
  MacAddress link_addr;  // SLLA of NS, TLLA of NA
  bool solicited;        // NA flags; false for NS
  bool override_flag;
  IpAddress destination;  // IPv6 destination of the message
};

// True if `l3` (starting at the IPv6 header) is an ICMPv6 NS or NA, judged
// only by the headers needed to find the type; parse_nd() validates it.
bool is_nd(std::span<const uint8_t> l3);

// `l3` starts at the IPv6 header of a packet whose upper protocol is ICMPv6.
// Validates as RFC 4861 7.1.1 / 7.1.2 and RFC 6980 ask: hop limit 255, not
// fragmented, code 0, checksum, length >= 24, target not multicast, options
// of non-zero length within the message, an NS from :: going to a
// solicited-node address without SLLA, an NA to multicast without the S flag.
// Returns kNdMalformed for those, IP parse reasons for a bad IPv6 header,
// kIpUnsupportedProto if it is not ICMPv6, kIcmpMalformed if it is shorter
// than an ICMPv6 header, and kIcmpUnsupportedType for other ICMPv6 types (so
// the caller can try an echo request next). The caller checks that the
// target is ours (kNdNotForUs otherwise). An NS from :: is duplicate address
// detection: answer it to ff02::1 with solicited = false and learn nothing.
DropReason parse_nd(std::span<const uint8_t> l3, NdInfo& out);

// Whole Ethernet frame: NA from our_ip for target our_ip, with TLLA option,
// router flag 0, override 1, hop limit 255. Returns the length (86), or 0 if
// `out` is too small or an address is not IPv6.
uint16_t build_neighbor_advertisement(std::span<uint8_t> out, const MacAddress& our_mac,
                                      const IpAddress& our_ip, const IpAddress& dst_ip,
                                      const MacAddress& dst_mac, bool solicited);

// Whole Ethernet frame: NS for `target` from our_ip to the target's
// solicited-node multicast address, with SLLA option, hop limit 255. Returns
// the length (86), or 0 if `out` is too small or an address is not IPv6.
uint16_t build_neighbor_solicitation(std::span<uint8_t> out, const MacAddress& our_mac,
                                     const IpAddress& our_ip, const IpAddress& target);

}  // namespace tcpsec::net

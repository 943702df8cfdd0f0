// SPD keys of parsed packets, for the outbound fast path: composed in
// registers from loads of the packet bytes, as the flow cache's key words.
// Building the key structs field by field and copying them stalled on store
// forwarding (a narrow store read back by a wide load waits for the store to
// reach the cache): 45% of the IPv4 classification once, a third of the
// protected burst with IPv6 traffic. tests/dataplane/spd/packet_key_test.cc
// checks both against make_key4/make_key6.
#pragma once

#include <rte_byteorder.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "dataplane/net/ip_packet.h"
#include "dataplane/spd/spd.h"
#include "dataplane/spd/spd_flow_cache.h"

namespace tcpsec::spd {

static_assert(std::endian::native == std::endian::little);

// The IPv4 key (proto, 3 zero bytes, src, dst, ports; all but proto in
// network order) of the parsed IPv4 packet at `ip`.
inline SpdFlowCache::Words packet_key4(const uint8_t* ip, const net::IpPacketInfo& info) {
  static_assert(sizeof(SpdKey4) == 16 && offsetof(SpdKey4, src) == 4);
  uint16_t sport, dport;
  net::transport_ports(ip, info, sport, dport);
  uint32_t src, dst;
  std::memcpy(&src, ip + 12, 4);
  std::memcpy(&dst, ip + 16, 4);
  return {{uint64_t{info.proto} | uint64_t{src} << 32,
           uint64_t{dst} | uint64_t{rte_cpu_to_be_16(sport)} << 32 |
               uint64_t{rte_cpu_to_be_16(dport)} << 48}};
}

// The IPv6 key of the parsed IPv6 packet at `ip`, written word by word into
// `k` (returned by value, GCC assembled it on the stack and copied it with
// one wide load: the stall again). The key's 32 address bytes are the
// header's, in the same order, 4 bytes further on.
inline void packet_key6(const uint8_t* ip, const net::IpPacketInfo& info, SpdFlowCache6::Words& k) {
  static_assert(sizeof(SpdKey6) == 40 && offsetof(SpdKey6, src) == 4 &&
                offsetof(SpdKey6, dst) == 20);
  uint16_t sport, dport;
  net::transport_ports(ip, info, sport, dport);
  uint32_t src_head, dst_tail;
  uint64_t middle[3];  // src[4..16), dst[0..12)
  std::memcpy(&src_head, ip + 8, 4);
  std::memcpy(middle, ip + 12, 24);
  std::memcpy(&dst_tail, ip + 36, 4);
  k.w[0] = uint64_t{info.proto} | uint64_t{src_head} << 32;
  k.w[1] = middle[0];
  k.w[2] = middle[1];
  k.w[3] = middle[2];
  k.w[4] = uint64_t{dst_tail} | uint64_t{rte_cpu_to_be_16(sport)} << 32 |
           uint64_t{rte_cpu_to_be_16(dport)} << 48;
}

}  // namespace tcpsec::spd

// How big an mbuf must be for every frame the ports may carry to stay in
// one segment: the packet path works on contiguous frames, and a frame that
// arrives chained (a jumbo frame in 2 KB mbufs) cannot be linearised into
// a first segment that is too small, so it would be dropped.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>

namespace tcpsec::port {

// What a frame may grow by beyond its MTU while it is framed in place: a
// VLAN tag, then ESP's padding (up to 255), pad length and next header,
// an ICV (up to 16) and the pseudo-TCP trailer (16), with margin. The
// outer headers (Ethernet, IPv6, TCP, ESP header and IV: < 128) are
// prepended into the headroom.
inline constexpr uint32_t kFrameGrowth = 14 + 4 + 255 + 2 + 16 + 16 + 13;

// The data room (headroom included) for a pool whose ports' largest L3 MTU
// is `max_mtu`: DPDK's default (2176) up to MTU 1500 plus margin, more for
// jumbo MTUs, rounded up to a cache-line multiple.
constexpr uint16_t mbuf_data_room(uint32_t max_mtu) {
  uint32_t room = std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, max_mtu + kFrameGrowth);
  room = (room + RTE_CACHE_LINE_SIZE - 1) / RTE_CACHE_LINE_SIZE * RTE_CACHE_LINE_SIZE;
  return static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + room);
}

}  // namespace tcpsec::port

// CtcpTrailer: the 16 bytes that follow the inner packet in pseudo-TCP
// (QuickSec / Cisco "IPsec over TCP"); see shared/reference/wire-formats.md 1.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/net/packet_buffer.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::ctcp {

inline constexpr uint16_t kTrailerLen = 16;
inline constexpr uint16_t kTcpHeaderLen = 20;
// Bytes pseudo-TCP adds to every packet: PMTU accounting uses this.
inline constexpr uint16_t kOverhead = kTcpHeaderLen + kTrailerLen;
inline constexpr uint8_t kMagic[4] = {0x21, 0x45, 0x6c, 0x69};

enum class InnerProto : uint8_t { kIke = 17, kEsp = 50 };

// Writes the trailer QuickSec writes. `ipv4_id` is the IPv4 ID of an IKE
// packet and zero otherwise.
inline void write_trailer(uint8_t* t, InnerProto proto, uint16_t ipv4_id) {
  std::memset(t, 0, 8);
  net::store_be16(t + 4, ipv4_id);
  std::memcpy(t + 8, kMagic, 4);
  t[12] = 0x10;
  t[13] = static_cast<uint8_t>(proto);
  t[14] = 0x01;
  t[15] = 0x00;
}

// Checks a received trailer. The magic bytes are only enforced when
// `strict` is set: QuickSec never checked them, and Cisco peers may differ.
// Returns the drop reason or kNone, setting `proto` on success.
inline DropReason check_trailer(const uint8_t* t, bool strict, InnerProto& proto) {
  if (net::load_be32(t) != 0) return DropReason::kCtcpTrailerBadZero;
  if ((net::load_be16(t + 6) & 0x0fff) != 0) return DropReason::kCtcpTrailerBadDirection;
  if (strict && (std::memcmp(t + 8, kMagic, 4) != 0 || t[12] != 0x10 || t[14] != 0x01)) {
    return DropReason::kCtcpTrailerBadMagic;
  }
  switch (t[13]) {
    case 17:
      proto = InnerProto::kIke;
      return DropReason::kNone;
    case 50:
      proto = InnerProto::kEsp;
      return DropReason::kNone;
    case 51:   // AH
    case 108:  // IPComp
      return DropReason::kCtcpAhIpcompRefused;
    default:
      return DropReason::kCtcpTrailerBadProto;
  }
}

}  // namespace tcpsec::ctcp

// Helpers shared by the net tests.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/net/ethernet.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/net/ip_packet.h"

namespace tcpsec::net::test_util {

template <size_t N>
std::vector<uint8_t> vec(const uint8_t (&a)[N]) {
  return std::vector<uint8_t>(a, a + N);
}
inline std::vector<uint8_t> vec(std::span<const uint8_t> s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// RFC 1071's worked IPv4 header (TTL 64, UDP, 0x73 bytes, checksum 0xb861).
inline std::vector<uint8_t> rfc1071_v4_header() {
  return {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
          0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
}

inline IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.has_value() ? *a : IpAddress{};
}

inline MacAddress mac(const char* text) {
  auto m = MacAddress::parse(text);
  EXPECT_TRUE(m.has_value()) << text;
  return m.has_value() ? *m : MacAddress{};
}

// Recomputes the upper-layer checksum (ICMPv4 or ICMPv6) and, for IPv4, the
// header checksum of the IP packet in `pkt`, after a test edited it.
inline void fix_checksums(std::vector<uint8_t>& pkt) {
  IpPacketInfo info;
  if ((pkt[0] >> 4) == 4) set_ipv4_header_checksum(pkt.data());
  ASSERT_EQ(parse_ip_packet(pkt, info), DropReason::kNone);
  uint8_t* l4 = pkt.data() + info.l3_length;
  std::span<const uint8_t> span(l4, info.l4_length());
  l4[2] = l4[3] = 0;
  uint16_t c = info.family == IpFamily::kV4 ? internet_checksum(span)
                                            : l4_checksum(pkt.data(), info, info.proto, span);
  store_be16(l4 + 2, c);
}

}  // namespace tcpsec::net::test_util

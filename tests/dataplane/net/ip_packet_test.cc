#include "dataplane/net/ip_packet.h"

#include <gtest/gtest.h>

#include <vector>

namespace tcpsec::net {
namespace {

// IPv4 header from RFC 1071-style worked example (checksum 0xb861).
std::vector<uint8_t> v4_header() {
  return {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
          0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
}

TEST(InternetChecksum, MatchesKnownHeader) {
  auto h = v4_header();
  EXPECT_EQ(internet_checksum(h), 0);  // a valid header sums to zero
  h[10] = h[11] = 0;
  EXPECT_EQ(internet_checksum(h), 0xb861);
}

TEST(ParseIp, Ipv4TotalLengthBeyondBufferIsRefused) {
  auto h = v4_header();  // claims 0x73 bytes, has 20
  IpPacketInfo info;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadTotalLength);
}

TEST(ParseIp, Ipv4BadChecksumAndVersionAndIhl) {
  auto h = v4_header();
  h[2] = 0;
  h[3] = 20;
  set_ipv4_header_checksum(h.data());
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(h, info), DropReason::kNone);
  EXPECT_EQ(info.proto, kProtoUdp);
  EXPECT_EQ(info.l3_length, 20);
  h[11] ^= 1;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadChecksum);
  h[0] = 0x44;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadHeaderLength);
  h[0] = 0x55;
  EXPECT_EQ(parse_ip_packet(h, info), DropReason::kIpBadVersion);
  EXPECT_EQ(parse_ip_packet(std::span<const uint8_t>(h).first(10), info),
            DropReason::kIpBadVersion);
  h[0] = 0x45;
  EXPECT_EQ(parse_ip_packet(std::span<const uint8_t>(h).first(10), info),
            DropReason::kIpTruncated);
}

TEST(ParseIp, Ipv6WalksExtensionHeaders) {
  std::vector<uint8_t> p(40 + 8 + 16 + 8, 0);
  p[0] = 0x60;
  p[5] = static_cast<uint8_t>(p.size() - 40);
  p[6] = 0;         // hop-by-hop
  p[40] = 60;       // -> destination options
  p[41] = 0;        // 8 bytes
  p[48] = 50;       // -> ESP
  p[49] = 1;        // 16 bytes
  IpPacketInfo info;
  ASSERT_EQ(parse_ip_packet(p, info), DropReason::kNone);
  EXPECT_EQ(info.proto, kProtoEsp);
  EXPECT_EQ(info.l3_length, 64);
  EXPECT_EQ(info.proto_offset, 48);
  EXPECT_EQ(info.l4_length(), 8);
  p[49] = 4;  // destination options now run past the packet
  EXPECT_EQ(parse_ip_packet(p, info), DropReason::kIpv6ExtHeaderTruncated);
}

TEST(ParseIp, Ipv6ExtensionHeaderLoopIsBounded) {
  std::vector<uint8_t> p(40 + 8 * 10, 0);  // ten hop-by-hop headers in a row
  p[0] = 0x60;
  p[5] = 80;
  IpPacketInfo info;
  EXPECT_EQ(parse_ip_packet(p, info), DropReason::kIpv6ExtHeaderUnsupported);
}

}  // namespace
}  // namespace tcpsec::net

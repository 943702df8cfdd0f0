#include "dataplane/net/ethernet.h"

#include <gtest/gtest.h>

#include "tests/dataplane/net/net_test_util.h"

namespace tcpsec::net {
namespace {

using test_util::ip;

TEST(MacAddress, ParsesAndPrints) {
  auto m = MacAddress::parse("02:AB:cd:00:ff:09");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->bytes, (std::array<uint8_t, 6>{0x02, 0xab, 0xcd, 0x00, 0xff, 0x09}));
  EXPECT_EQ(m->to_string(), "02:ab:cd:00:ff:09");
  EXPECT_FALSE(m->is_multicast());
  EXPECT_FALSE(m->is_broadcast());
}

TEST(MacAddress, RefusesBadText) {
  for (const char* bad : {"", "02:ab:cd:00:ff", "02:ab:cd:00:ff:09:", "02-ab-cd-00-ff-09",
                          "02:ab:cd:00:ff:0g", "2:ab:cd:00:ff:09a", "02:ab:cd:00:ff:9"}) {
    auto m = MacAddress::parse(bad);
    EXPECT_FALSE(m.has_value()) << bad;
    if (!m.has_value()) {
      EXPECT_NE(m.error().find(bad), std::string::npos);
    }
  }
}

TEST(MacAddress, BroadcastAndMulticast) {
  constexpr MacAddress b = MacAddress::broadcast();
  EXPECT_TRUE(b.is_broadcast());
  EXPECT_TRUE(b.is_multicast());
  EXPECT_EQ(b.to_string(), "ff:ff:ff:ff:ff:ff");
  EXPECT_TRUE(test_util::mac("33:33:00:00:00:01").is_multicast());
  EXPECT_FALSE(test_util::mac("33:33:00:00:00:01").is_broadcast());
  EXPECT_TRUE(test_util::mac("00:00:00:00:00:00").is_zero());
  EXPECT_EQ(test_util::mac("01:02:03:04:05:06"), test_util::mac("01:02:03:04:05:06"));
  EXPECT_NE(test_util::mac("01:02:03:04:05:06"), test_util::mac("01:02:03:04:05:07"));
}

TEST(Ethernet, WritesAndParsesHeader) {
  uint8_t h[kEthHeaderLen];
  write_eth_header(h, test_util::mac("01:02:03:04:05:06"), test_util::mac("0a:0b:0c:0d:0e:0f"),
                   kEtherTypeIpv6);
  const uint8_t want[] = {1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 0x86, 0xdd};
  EXPECT_EQ(test_util::vec(h), test_util::vec(want));
  EthHeader eth;
  ASSERT_EQ(parse_eth_header(h, eth), DropReason::kNone);
  EXPECT_EQ(eth.dst, test_util::mac("01:02:03:04:05:06"));
  EXPECT_EQ(eth.src, test_util::mac("0a:0b:0c:0d:0e:0f"));
  EXPECT_EQ(eth.ethertype, kEtherTypeIpv6);
  EXPECT_EQ(parse_eth_header(std::span<const uint8_t>(h).first(13), eth),
            DropReason::kEthTruncated);
}

TEST(Ethernet, Ipv6MulticastMappings) {
  EXPECT_EQ(ipv6_multicast_mac(ip("ff02::1")), test_util::mac("33:33:00:00:00:01"));
  EXPECT_EQ(ipv6_multicast_mac(ip("ff02::1:ffab:cdef")), test_util::mac("33:33:ff:ab:cd:ef"));
  EXPECT_EQ(solicited_node_address(ip("2001:db8::12ab:cdef")), ip("ff02::1:ffab:cdef"));
  EXPECT_EQ(solicited_node_address(ip("fe80::1")), ip("ff02::1:ff00:1"));
}

}  // namespace
}  // namespace tcpsec::net

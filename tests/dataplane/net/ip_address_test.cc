#include "dataplane/net/ip_address.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tcpsec::net {
namespace {

TEST(IpAddress, ParsesBothFamiliesAndRoundTrips) {
  auto v4 = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->to_string(), "192.0.2.1");
  auto v6 = IpAddress::parse("2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8::1");
}

TEST(IpAddress, FromPacketBytesIsTheParsedAddressByteForByte) {
  // Table keys hash all 20 bytes: the fast constructors must leave exactly
  // what parse() leaves (IPv4 in bytes 0-3, zeros, family, zero padding).
  const uint8_t v4_bytes[4] = {192, 0, 2, 77};
  const uint8_t v6_bytes[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34};
  const IpAddress a = IpAddress::v4(v4_bytes);
  const IpAddress b = IpAddress::v6(v6_bytes);
  const IpAddress pa = *IpAddress::parse("192.0.2.77");
  const IpAddress pb = *IpAddress::parse("2001:db8::1234");
  EXPECT_EQ(std::memcmp(&a, &pa, sizeof a), 0);
  EXPECT_EQ(std::memcmp(&b, &pb, sizeof b), 0);
  EXPECT_TRUE(a == pa && b == pb);
  EXPECT_TRUE(a.is_v4() && b.is_v6());
  EXPECT_EQ(a.to_string(), "192.0.2.77");
  // The same leading bytes in the other family are another address.
  uint8_t widened[16] = {192, 0, 2, 77};
  EXPECT_FALSE(IpAddress::v6(widened) == a);
}

TEST(IpAddress, RefusesGarbageNamingIt) {
  auto bad = IpAddress::parse("300.1.1.1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("300.1.1.1"), std::string::npos);
}

TEST(IpPrefix, ContainsRespectsLengthAndFamily) {
  auto p = IpPrefix::parse("10.1.0.0/15");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.1.255.1")));
  EXPECT_TRUE(p->contains(*IpAddress::parse("10.0.0.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("10.2.0.1")));
  EXPECT_FALSE(p->contains(*IpAddress::parse("::a01:1")));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/33"));
  EXPECT_FALSE(IpPrefix::parse("10.0.0.0/x"));
}

}  // namespace
}  // namespace tcpsec::net

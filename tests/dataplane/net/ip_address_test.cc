#include "dataplane/net/ip_address.h"

#include <gtest/gtest.h>

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

#include "dataplane/net/route_table.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/dataplane/net/net_test_util.h"

namespace tcpsec::net {
namespace {

using test_util::ip;

IpPrefix prefix(const char* text) {
  auto p = IpPrefix::parse(text);
  EXPECT_TRUE(p.has_value()) << text;
  return p.has_value() ? *p : IpPrefix{};
}

TEST(RouteTable, LongestPrefixWins) {
  RouteTable t;
  ASSERT_TRUE(t.add(prefix("10.0.0.0/8"), ip("192.0.2.1"), 0));
  ASSERT_TRUE(t.add(prefix("10.1.2.0/24"), ip("192.0.2.3"), 2));
  ASSERT_TRUE(t.add(prefix("10.1.0.0/16"), ip("192.0.2.2"), 1));
  ASSERT_TRUE(t.add(prefix("10.1.2.128/25"), IpAddress{}, 3));
  EXPECT_EQ(t.size(), 4u);
  RouteResult r;
  ASSERT_TRUE(t.lookup(ip("10.9.9.9"), r));
  EXPECT_EQ(r.port, 0);
  EXPECT_EQ(r.next_hop, ip("192.0.2.1"));
  ASSERT_TRUE(t.lookup(ip("10.1.9.9"), r));
  EXPECT_EQ(r.port, 1);
  EXPECT_EQ(r.next_hop, ip("192.0.2.2"));
  ASSERT_TRUE(t.lookup(ip("10.1.2.127"), r));
  EXPECT_EQ(r.port, 2);
  EXPECT_EQ(r.next_hop, ip("192.0.2.3"));
  ASSERT_TRUE(t.lookup(ip("10.1.2.200"), r));
  EXPECT_EQ(r.port, 3);
  EXPECT_FALSE(t.lookup(ip("11.0.0.1"), r));
}

// The word-masked lookup agrees with the longest containing prefix found by
// IpPrefix::contains, for random routes of every length and both families.
TEST(RouteTable, RandomRoutesMatchAReferenceScan) {
  std::mt19937 rng(11);
  for (bool v6 : {false, true}) {
    const unsigned bytes = v6 ? 16 : 4;
    auto random_address = [&] {
      uint8_t b[16];
      for (auto& x : b) x = static_cast<uint8_t>(rng() % 4);  // few values: many overlaps
      return v6 ? IpAddress::v6(b) : IpAddress::v4(b);
    };
    RouteTable t;
    std::vector<std::pair<IpPrefix, uint16_t>> added;
    for (uint16_t port = 0; port < 200; ++port) {
      IpPrefix p{random_address(), static_cast<uint8_t>(rng() % (bytes * 8 + 1))};
      if (t.add(p, IpAddress{}, port)) added.push_back({p, port});
    }
    for (int i = 0; i < 5000; ++i) {
      IpAddress dst = random_address();
      int best = -1, best_port = -1;
      for (const auto& [p, port] : added) {
        if (p.contains(dst) && int{p.length} > best) {
          best = p.length;
          best_port = port;
        }
      }
      RouteResult r;
      ASSERT_EQ(t.lookup(dst, r), best >= 0) << dst.to_string();
      if (best >= 0) {
        EXPECT_EQ(r.port, best_port) << dst.to_string();
      }
    }
  }
}

TEST(RouteTable, ConnectedRouteNextHopIsDestination) {
  RouteTable t;
  ASSERT_TRUE(t.add(prefix("192.0.2.0/24"), IpAddress{}, 4));
  ASSERT_TRUE(t.add(prefix("2001:db8::/64"), IpAddress{}, 5));
  RouteResult r;
  ASSERT_TRUE(t.lookup(ip("192.0.2.77"), r));
  EXPECT_EQ(r.port, 4);
  EXPECT_EQ(r.next_hop, ip("192.0.2.77"));
  ASSERT_TRUE(t.lookup(ip("2001:db8::abc"), r));
  EXPECT_EQ(r.port, 5);
  EXPECT_EQ(r.next_hop, ip("2001:db8::abc"));
}

TEST(RouteTable, DefaultRoutes) {
  RouteTable t;
  RouteResult r;
  EXPECT_FALSE(t.lookup(ip("8.8.8.8"), r));
  ASSERT_TRUE(t.add(prefix("0.0.0.0/0"), ip("192.0.2.254"), 1));
  ASSERT_TRUE(t.add(prefix("192.0.2.0/24"), IpAddress{}, 1));
  ASSERT_TRUE(t.add(prefix("::/0"), ip("fe80::1"), 2));
  ASSERT_TRUE(t.lookup(ip("8.8.8.8"), r));
  EXPECT_EQ(r.next_hop, ip("192.0.2.254"));
  ASSERT_TRUE(t.lookup(ip("192.0.2.9"), r));
  EXPECT_EQ(r.next_hop, ip("192.0.2.9"));
  ASSERT_TRUE(t.lookup(ip("2001:4860::8888"), r));
  EXPECT_EQ(r.port, 2);
  EXPECT_EQ(r.next_hop, ip("fe80::1"));
  EXPECT_FALSE(t.lookup(IpAddress{}, r));
}

TEST(RouteTable, FamiliesAreSeparate) {
  RouteTable t;
  ASSERT_TRUE(t.add(prefix("0.0.0.0/0"), ip("192.0.2.254"), 1));
  RouteResult r;
  // ::/0-like destinations whose first bytes are zero must not match v4 routes.
  EXPECT_FALSE(t.lookup(ip("::1"), r));
  EXPECT_FALSE(t.lookup(ip("::ffff:1.2.3.4"), r));
  ASSERT_TRUE(t.add(prefix("::/0"), IpAddress{}, 2));
  ASSERT_TRUE(t.lookup(ip("::1"), r));
  EXPECT_EQ(r.port, 2);
  ASSERT_TRUE(t.lookup(ip("0.0.0.1"), r));
  EXPECT_EQ(r.port, 1);
}

TEST(RouteTable, RefusesBadRoutes) {
  RouteTable t;
  EXPECT_FALSE(t.add(IpPrefix{}, IpAddress{}, 0));
  EXPECT_FALSE(t.add(prefix("10.0.0.0/8"), ip("2001:db8::1"), 0));  // other family
  IpPrefix too_long = prefix("10.0.0.0/8");
  too_long.length = 33;
  EXPECT_FALSE(t.add(too_long, IpAddress{}, 0));
  ASSERT_TRUE(t.add(prefix("10.0.0.0/8"), IpAddress{}, 0));
  Status dup = t.add(prefix("10.1.2.3/8"), IpAddress{}, 1);  // same prefix after masking
  EXPECT_FALSE(dup);
  EXPECT_NE(dup.message().find("10.0.0.0/8"), std::string::npos);
  EXPECT_FALSE(t.add(prefix("10.0.0.0/8"), ip("10.0.0.1"), 0));  // other next hop
  // An identical route again (two addresses in one subnet) is accepted once.
  EXPECT_TRUE(t.add(prefix("10.0.0.7/8"), IpAddress{}, 0));
  EXPECT_EQ(t.size(), 1u);
}

TEST(RouteTable, HostBitsAreIgnored) {
  RouteTable t;
  ASSERT_TRUE(t.add(prefix("10.1.2.3/23"), IpAddress{}, 7));
  ASSERT_TRUE(t.add(prefix("2001:db8::ffff/33"), IpAddress{}, 8));
  RouteResult r;
  ASSERT_TRUE(t.lookup(ip("10.1.3.200"), r));
  EXPECT_EQ(r.port, 7);
  EXPECT_FALSE(t.lookup(ip("10.1.4.1"), r));
  ASSERT_TRUE(t.lookup(ip("2001:db8:7fff::1"), r));
  EXPECT_EQ(r.port, 8);
  EXPECT_FALSE(t.lookup(ip("2001:db8:8000::1"), r));
}

}  // namespace
}  // namespace tcpsec::net

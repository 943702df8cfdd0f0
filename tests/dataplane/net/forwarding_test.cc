#include "dataplane/net/forwarding.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dataplane/net/ip_packet.h"
#include "tests/dataplane/net/net_test_util.h"

namespace tcpsec::net {
namespace {

std::vector<uint8_t> v4_header() {
  return test_util::rfc1071_v4_header();
}

TEST(DecrementTtl, Ipv4KnownHeader) {
  auto h = v4_header();
  ASSERT_TRUE(decrement_ttl(h.data()));
  EXPECT_EQ(h[8], 0x3f);
  EXPECT_EQ(h[9], 0x11);   // protocol untouched
  EXPECT_EQ(h[10], 0xb9);  // 0xb861 + 0x0100, by hand
  EXPECT_EQ(h[11], 0x61);
  EXPECT_EQ(internet_checksum(h), 0);
}

// The incremental update equals a full recomputation for every TTL and
// random headers (RFC 1624's corner: a sum that folds to 0xffff).
TEST(DecrementTtl, Ipv4MatchesFullChecksum) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20000; ++trial) {
    auto h = v4_header();
    for (size_t i = 1; i < h.size(); ++i) h[i] = static_cast<uint8_t>(rng());
    h[8] = static_cast<uint8_t>(2 + trial % 254);
    set_ipv4_header_checksum(h.data());
    auto expect = h;
    expect[8] = static_cast<uint8_t>(expect[8] - 1);
    set_ipv4_header_checksum(expect.data());
    ASSERT_TRUE(decrement_ttl(h.data()));
    ASSERT_EQ(h[8], expect[8]);
    ASSERT_EQ(internet_checksum(h), 0) << "trial " << trial;
  }
}

TEST(DecrementTtl, ExpiringTtlLeavesHeaderUnchanged) {
  for (uint8_t ttl : {uint8_t{0}, uint8_t{1}}) {
    auto h = v4_header();
    h[8] = ttl;
    const auto before = h;
    EXPECT_FALSE(decrement_ttl(h.data()));
    EXPECT_EQ(h, before);
  }
}

TEST(DecrementTtl, Ipv6HopLimit) {
  std::vector<uint8_t> h(40, 0);
  h[0] = 0x60;
  h[7] = 2;
  ASSERT_TRUE(decrement_ttl(h.data()));
  EXPECT_EQ(h[7], 1);
  EXPECT_FALSE(decrement_ttl(h.data()));
  EXPECT_EQ(h[7], 1);
}

}  // namespace
}  // namespace tcpsec::net

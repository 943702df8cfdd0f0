#include "dataplane/net/destination_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace tcpsec::net {
namespace {

std::vector<uint8_t> v4_packet(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  std::vector<uint8_t> p(20, 0);
  p[0] = 0x45;
  p[16] = a, p[17] = b, p[18] = c, p[19] = d;
  return p;
}

std::vector<uint8_t> v6_packet(const std::vector<uint8_t>& dst16) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  std::copy(dst16.begin(), dst16.end(), p.begin() + 24);
  return p;
}

constexpr uint8_t kMacs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
constexpr uint8_t kOtherMacs[12] = {2, 0, 0, 0, 0, 9, 2, 0, 0, 0, 0, 2};

TEST(DestinationCache, HitsOnlyUnderTheGenerationItWasFilledUnder) {
  DestinationCache cache;
  const auto pkt = v4_packet(10, 10, 0, 5);
  const auto key = DestinationCache::key_of(pkt.data());
  DestinationCache::Egress e;
  EXPECT_FALSE(cache.find(key, 1, e));  // empty
  cache.insert(key, 7, 3, kMacs);
  ASSERT_TRUE(cache.find(key, 7, e));
  EXPECT_EQ(e.port, 3);
  EXPECT_EQ(0, std::memcmp(e.macs, kMacs, 12));
  EXPECT_FALSE(cache.find(key, 8, e));  // the neighbour table changed: a MAC may have moved
  cache.insert(key, 8, 3, kOtherMacs);
  ASSERT_TRUE(cache.find(key, 8, e));
  EXPECT_EQ(0, std::memcmp(e.macs, kOtherMacs, 12));
}

TEST(DestinationCache, AddressesAndFamiliesAreKeptApart) {
  DestinationCache cache;
  const auto a = v4_packet(10, 10, 0, 5);
  const auto b = v4_packet(10, 10, 0, 6);
  // An IPv6 address whose first four bytes are a's IPv4 address, the rest zero:
  // the same key words, another family.
  const auto a6 = v6_packet({10, 10, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  cache.insert(DestinationCache::key_of(a.data()), 1, 1, kMacs);
  DestinationCache::Egress e;
  EXPECT_FALSE(cache.find(DestinationCache::key_of(b.data()), 1, e));
  EXPECT_FALSE(cache.find(DestinationCache::key_of(a6.data()), 1, e));
  cache.insert(DestinationCache::key_of(a6.data()), 1, 2, kOtherMacs);  // same slot
  ASSERT_TRUE(cache.find(DestinationCache::key_of(a6.data()), 1, e));
  EXPECT_EQ(e.port, 2);
  EXPECT_FALSE(cache.find(DestinationCache::key_of(a.data()), 1, e));  // replaced, not confused
}

TEST(DestinationCache, ManyDestinationsMostlyFit) {
  DestinationCache cache;
  int hits = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 128; ++i) {
      const auto p = v4_packet(10, 20, static_cast<uint8_t>(i / 16), static_cast<uint8_t>(i));
      const auto k = DestinationCache::key_of(p.data());
      DestinationCache::Egress e;
      if (cache.find(k, 5, e)) {
        ++hits;
        EXPECT_EQ(e.port, i % 4);
      } else {
        cache.insert(k, 5, static_cast<uint16_t>(i % 4), kMacs);
      }
    }
  }
  EXPECT_GT(hits, 64);  // second round: most of 128 destinations in 256 slots
}

}  // namespace
}  // namespace tcpsec::net

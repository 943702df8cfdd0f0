#include "dataplane/net/neighbor_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/dataplane/net/net_test_util.h"

namespace tcpsec::net {
namespace {

using test_util::ip;
using test_util::mac;

TEST(NeighborTable, LearnsAndRelearns) {
  NeighborTable t;
  MacAddress m;
  EXPECT_FALSE(t.lookup(0, ip("192.0.2.1"), m));
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:01"));
  ASSERT_TRUE(t.lookup(0, ip("192.0.2.1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:01"));
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:02"));
  ASSERT_TRUE(t.lookup(0, ip("192.0.2.1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:02"));
  EXPECT_EQ(t.size(), 1u);
}

TEST(NeighborTable, GenerationChangesOnlyWithAnEntry) {
  NeighborTable t;
  uint64_t g0 = t.generation();
  EXPECT_NE(g0, 0u);  // 0 means "never cached" to the ESP egress cache
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:01"));
  uint64_t g1 = t.generation();
  EXPECT_NE(g1, g0);
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:01"));  // same MAC: no change
  EXPECT_EQ(t.generation(), g1);
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:02"));  // relearned
  uint64_t g2 = t.generation();
  EXPECT_NE(g2, g1);
  ASSERT_TRUE(t.add_static(0, ip("192.0.2.1"), mac("02:00:00:00:00:03")).ok());
  uint64_t g3 = t.generation();
  EXPECT_NE(g3, g2);
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:04"));  // static wins: no change
  EXPECT_EQ(t.generation(), g3);
  MacAddress m;
  EXPECT_FALSE(t.lookup(0, ip("192.0.2.9"), m));  // lookups never change it
  EXPECT_EQ(t.generation(), g3);
}

TEST(NeighborTable, KeysArePortAndAddress) {
  NeighborTable t;
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:01"));
  t.learn(1, ip("192.0.2.1"), mac("02:00:00:00:00:02"));
  t.learn(0, ip("::c000:201"), mac("02:00:00:00:00:03"));  // same bytes, IPv6
  MacAddress m;
  ASSERT_TRUE(t.lookup(0, ip("192.0.2.1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:01"));
  ASSERT_TRUE(t.lookup(1, ip("192.0.2.1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:02"));
  ASSERT_TRUE(t.lookup(0, ip("::c000:201"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:03"));
  EXPECT_FALSE(t.lookup(2, ip("192.0.2.1"), m));
  EXPECT_FALSE(t.lookup(0, IpAddress{}, m));
  EXPECT_EQ(t.size(), 3u);
}

TEST(NeighborTable, StaticBeatsDynamic) {
  NeighborTable t;
  MacAddress m;
  // Static first: learning never overrides it.
  ASSERT_TRUE(t.add_static(0, ip("192.0.2.1"), mac("02:00:00:00:00:aa")));
  t.learn(0, ip("192.0.2.1"), mac("02:00:00:00:00:01"));
  ASSERT_TRUE(t.lookup(0, ip("192.0.2.1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:aa"));
  // Dynamic first: a static entry replaces it, and then holds.
  t.learn(0, ip("2001:db8::1"), mac("02:00:00:00:00:01"));
  ASSERT_TRUE(t.add_static(0, ip("2001:db8::1"), mac("02:00:00:00:00:bb")));
  t.learn(0, ip("2001:db8::1"), mac("02:00:00:00:00:02"));
  ASSERT_TRUE(t.lookup(0, ip("2001:db8::1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:bb"));
  // A static entry may be reconfigured.
  ASSERT_TRUE(t.add_static(0, ip("2001:db8::1"), mac("02:00:00:00:00:cc")));
  ASSERT_TRUE(t.lookup(0, ip("2001:db8::1"), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:cc"));

  std::vector<std::tuple<uint16_t, IpAddress, MacAddress, bool>> seen;
  t.for_each([&](uint16_t port, const IpAddress& a, const MacAddress& mm, bool is_static) {
    seen.emplace_back(port, a, mm, is_static);
  });
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& [port, a, mm, is_static] : seen) {
    EXPECT_EQ(port, 0);
    EXPECT_TRUE(is_static) << a.to_string();
  }
}

TEST(NeighborTable, ForEachReportsDynamicEntries) {
  NeighborTable t;
  t.learn(3, ip("192.0.2.9"), mac("02:00:00:00:00:09"));
  int n = 0;
  t.for_each([&](uint16_t port, const IpAddress& a, const MacAddress& m, bool is_static) {
    ++n;
    EXPECT_EQ(port, 3);
    EXPECT_EQ(a, ip("192.0.2.9"));
    EXPECT_EQ(m, mac("02:00:00:00:00:09"));
    EXPECT_FALSE(is_static);
  });
  EXPECT_EQ(n, 1);
}

TEST(NeighborTable, RefusesMulticastZeroAndFamilyless) {
  NeighborTable t;
  MacAddress m;
  t.learn(0, ip("192.0.2.1"), MacAddress::broadcast());
  t.learn(0, ip("192.0.2.2"), mac("01:00:5e:00:00:01"));
  t.learn(0, ip("192.0.2.3"), MacAddress{});
  t.learn(0, IpAddress{}, mac("02:00:00:00:00:01"));
  EXPECT_FALSE(t.lookup(0, ip("192.0.2.1"), m));
  EXPECT_FALSE(t.lookup(0, ip("192.0.2.2"), m));
  EXPECT_FALSE(t.lookup(0, ip("192.0.2.3"), m));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.add_static(0, ip("192.0.2.1"), MacAddress::broadcast()));
  EXPECT_FALSE(t.add_static(0, IpAddress{}, mac("02:00:00:00:00:01")));
}

TEST(NeighborTable, FullTableIgnoresNewEntriesAndCounts) {
  NeighborTable t(4);
  for (uint32_t i = 0; i < 6; ++i)
    t.learn(0, IpAddress::v4(0x0a000000 + i), mac("02:00:00:00:00:01"));
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.full_count(), 2u);
  MacAddress m;
  int found = 0;
  for (uint32_t i = 0; i < 6; ++i) found += t.lookup(0, IpAddress::v4(0x0a000000 + i), m);
  EXPECT_EQ(found, 4);
  // Existing entries still relearn.
  t.learn(0, IpAddress::v4(0x0a000000), mac("02:00:00:00:00:02"));
  ASSERT_TRUE(t.lookup(0, IpAddress::v4(0x0a000000), m));
  EXPECT_EQ(m, mac("02:00:00:00:00:02"));
  EXPECT_EQ(t.full_count(), 2u);
  EXPECT_FALSE(t.add_static(0, ip("192.0.2.1"), mac("02:00:00:00:00:01")));
}

TEST(NeighborTable, ShouldSolicitRateLimits) {
  NeighborTable t;
  const uint64_t interval = 1000;
  EXPECT_TRUE(t.should_solicit(0, ip("192.0.2.1"), 5000, interval));
  EXPECT_FALSE(t.should_solicit(0, ip("192.0.2.1"), 5000, interval));
  EXPECT_FALSE(t.should_solicit(0, ip("192.0.2.1"), 5999, interval));
  EXPECT_FALSE(t.should_solicit(0, ip("192.0.2.1"), 4000, interval));  // clock behind
  // Other destinations and ports are independent.
  EXPECT_TRUE(t.should_solicit(0, ip("192.0.2.2"), 5500, interval));
  EXPECT_TRUE(t.should_solicit(1, ip("192.0.2.1"), 5500, interval));
  EXPECT_TRUE(t.should_solicit(0, ip("2001:db8::1"), 5500, interval));
  EXPECT_TRUE(t.should_solicit(0, ip("192.0.2.1"), 6000, interval));
  EXPECT_FALSE(t.should_solicit(0, ip("192.0.2.1"), 6999, interval));
  EXPECT_TRUE(t.should_solicit(0, ip("192.0.2.1"), 7000, interval));
  EXPECT_FALSE(t.should_solicit(0, IpAddress{}, 9000, interval));
}

TEST(NeighborTable, ShouldSolicitSurvivesManyDestinations) {
  NeighborTable t(64);
  const uint64_t interval = 1'000'000;
  // Every destination gets its first solicitation, none twice in a row.
  for (uint32_t i = 0; i < 10000; ++i) {
    ASSERT_TRUE(t.should_solicit(0, IpAddress::v4(0x0a000000 + i), 1000 + i, interval)) << i;
    ASSERT_FALSE(t.should_solicit(0, IpAddress::v4(0x0a000000 + i), 1000 + i, interval)) << i;
  }
  // Unresolved destinations take no neighbour slots.
  EXPECT_EQ(t.size(), 0u);
}

// One writer relearns MACs alternating between two values whose bytes are all
// equal per value while inserting new entries; readers must only ever see one
// of the two exact values (never a torn MAC).
TEST(NeighborTable, ConcurrentReadersNeverSeeTornMacs) {
  NeighborTable t(2048);
  const MacAddress a = mac("12:12:12:12:12:12");  // unicast: first byte even
  const MacAddress b = mac("34:34:34:34:34:34");
  constexpr uint32_t kHot = 64, kAll = 1500;
  auto key = [](uint32_t i) {
    if ((i & 1) != 0) return IpAddress::v4(0x0a000000 + i);
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    b[14] = static_cast<uint8_t>(i >> 8);
    b[15] = static_cast<uint8_t>(i);
    return IpAddress::v6(b);
  };
  for (uint32_t i = 0; i < kHot; ++i) t.learn(static_cast<uint16_t>(i % 3), key(i), a);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, misses{0}, reads{0};
  auto reader = [&](uint32_t seed) {
    uint32_t x = seed;
    uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      x = x * 1664525 + 1013904223;
      uint32_t i = (x >> 8) % kAll;
      MacAddress m;
      bool hit = t.lookup(static_cast<uint16_t>(i % 3), key(i), m);
      if (hit && m != a && m != b) bad.fetch_add(1);
      if (!hit && i < kHot) misses.fetch_add(1);
      ++n;
    }
    reads.fetch_add(n);
  };
  std::thread r1(reader, 1), r2(reader, 2);
  std::thread writer([&] {
    uint32_t next = kHot;
    for (uint64_t round = 0; !stop.load(std::memory_order_relaxed); ++round) {
      const MacAddress& m = (round & 1) != 0 ? b : a;
      for (uint32_t i = 0; i < kHot; ++i) t.learn(static_cast<uint16_t>(i % 3), key(i), m);
      if (next < kAll) {
        t.learn(static_cast<uint16_t>(next % 3), key(next), m);
        ++next;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(misses.load(), 0u);
  EXPECT_GT(reads.load(), 1000u);
  EXPECT_EQ(t.full_count(), 0u);
}

}  // namespace
}  // namespace tcpsec::net

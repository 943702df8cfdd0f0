#include "dataplane/sad/sa_table.h"

#include <gtest/gtest.h>
#include <rte_pause.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/sad/sa_lookup_cache.h"
#include "dataplane/sad/sa_params.h"
#include "tests/support/eal_environment.h"

namespace tcpsec::sad {
namespace {

using net::IpAddress;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class SaTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status eal = tcpsec::testing::init_eal();
    ASSERT_TRUE(eal) << eal.message();
  }

  // A table with a name of its own (rte_hash names are process-wide).
  static std::unique_ptr<SaTable> make(SaTable::Options o = {}) {
    static int counter = 0;
    o.name = "sa" + std::to_string(counter++);
    auto t = SaTable::create(o);
    EXPECT_TRUE(t) << (t ? "" : t.error());
    return t ? std::move(*t) : nullptr;
  }
  static SaTable::Options small(uint32_t max_sas) {
    SaTable::Options o;
    o.max_sas = max_sas;
    return o;
  }
};

TEST_F(SaTableTest, AddLookupRemoveBySpi) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  auto a = t->add(SaKey::of(0x1001));
  ASSERT_TRUE(a) << a.error();
  auto b = t->add(SaKey::of(0x1002));
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(*a, 0u);  // indices are handed out from 0
  EXPECT_EQ(*b, 1u);
  EXPECT_EQ(t->size(), 2u);
  EXPECT_EQ(t->capacity(), 64u);

  // The SPI alone is found whatever the destination.
  EXPECT_EQ(t->lookup(0x1001, IpAddress{}), *a);
  EXPECT_EQ(t->lookup(0x1001, ip("192.0.2.1")), *a);
  EXPECT_EQ(t->lookup(0x1002, ip("2001:db8::1")), *b);
  EXPECT_EQ(t->lookup(0x1003, ip("192.0.2.1")), kNoSa);
  EXPECT_EQ(t->lookup_exact(SaKey::of(0x1001)), *a);
  EXPECT_EQ(t->lookup_exact(SaKey::of(0x1001, ip("192.0.2.1"))), kNoSa);
  EXPECT_EQ(t->key_of(*b), SaKey::of(0x1002));

  ASSERT_TRUE(t->remove(SaKey::of(0x1001)));
  EXPECT_EQ(t->lookup(0x1001, ip("192.0.2.1")), kNoSa);
  EXPECT_EQ(t->size(), 1u);
  EXPECT_FALSE(t->key_of(*a).has_value());
  Status again = t->remove(SaKey::of(0x1001));
  EXPECT_FALSE(again);
  EXPECT_EQ(again.message(), "removing SPI 0x00001001: not in the table");
  ASSERT_TRUE(t->remove(*b));
  Status by_index = t->remove(*b);
  EXPECT_EQ(by_index.message(), "removing SA 1: not in use");
  EXPECT_FALSE(t->remove(SaIndex{64}));
  EXPECT_EQ(t->size(), 0u);
}

TEST_F(SaTableTest, SpiPerLocalAddressWinsOverSpiAlone) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress v4 = ip("192.0.2.10"), v6 = ip("2001:db8::10"), other = ip("192.0.2.11");
  auto on_v4 = t->add(SaKey::of(0x5000, v4));
  auto on_v6 = t->add(SaKey::of(0x5000, v6));
  ASSERT_TRUE(on_v4 && on_v6);
  EXPECT_EQ(t->lookup(0x5000, v4), *on_v4);
  EXPECT_EQ(t->lookup(0x5000, v6), *on_v6);
  EXPECT_EQ(t->lookup(0x5000, other), kNoSa);  // no SPI-only entry yet
  EXPECT_EQ(t->lookup(0x5000, IpAddress{}), kNoSa);

  auto any = t->add(SaKey::of(0x5000));
  ASSERT_TRUE(any) << any.error();
  EXPECT_EQ(t->lookup(0x5000, other), *any);  // falls back to the SPI alone
  EXPECT_EQ(t->lookup(0x5000, v4), *on_v4);   // the exact key still wins
  EXPECT_EQ(t->lookup(0x5000, IpAddress{}), *any);

  ASSERT_TRUE(t->remove(SaKey::of(0x5000, v4)));
  EXPECT_EQ(t->lookup(0x5000, v4), *any);
  EXPECT_EQ(t->key_of(*on_v6), SaKey::of(0x5000, v6));

  // The SPI alone goes; the keyed SA stays.
  ASSERT_TRUE(t->remove(*any));
  EXPECT_EQ(t->lookup(0x5000, other), kNoSa);
  EXPECT_EQ(t->lookup(0x5000, v6), *on_v6);
  EXPECT_EQ(t->lookup_exact(SaKey::of(0x5000)), kNoSa);
  // The last keyed SA goes: nothing is left of the SPI.
  ASSERT_TRUE(t->remove(*on_v6));
  EXPECT_EQ(t->lookup(0x5000, v6), kNoSa);
  EXPECT_EQ(t->size(), 0u);
  // And it can come back as either kind.
  auto again = t->add(SaKey::of(0x5000));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(t->lookup(0x5000, v6), *again);
  auto keyed = t->add(SaKey::of(0x5000, v6));
  ASSERT_TRUE(keyed) << keyed.error();
  EXPECT_EQ(t->lookup(0x5000, v6), *keyed);
  EXPECT_EQ(t->lookup(0x5000, v4), *again);
}

// The cache answers what the table answers after every kind of change:
// add (also over a cached miss and over an SPI-alone answer), replace and
// remove; colliding SPIs share a slot and stay right.
TEST_F(SaTableTest, LookupCacheFollowsEveryChange) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  SaLookupCache cache;
  const IpAddress local = ip("192.0.2.1"), other = ip("192.0.2.2");
  auto check = [&](const char* when) {
    for (uint32_t spi : {0x1001u, 0x1002u, 0x1001u + 64, 0x2001u}) {
      for (const IpAddress& a : {local, other, IpAddress{}}) {
        for (int twice = 0; twice < 2; ++twice) {
          EXPECT_EQ(cache.lookup(*t, spi, a), t->lookup(spi, a))
              << when << ": SPI " << spi << " on " << a.to_string();
        }
      }
    }
  };
  check("empty");  // misses cached
  const uint64_t g0 = t->generation();
  ASSERT_TRUE(t->add(SaKey::of(0x1001)));
  EXPECT_NE(t->generation(), g0);
  check("after add");
  ASSERT_TRUE(t->add(SaKey::of(0x1001, local)));  // beats the SPI-alone answer on `local`
  ASSERT_TRUE(t->add(SaKey::of(0x1001 + 64)));    // same cache slot family
  check("after adding an address-keyed SA");
  EXPECT_EQ(cache.lookup(*t, 0x1001, local), t->lookup_exact(SaKey::of(0x1001, local)));
  auto r = t->replace(SaKey::of(0x1001), [](SaIndex) {});
  ASSERT_TRUE(r) << r.error();
  check("after replace");
  EXPECT_EQ(cache.lookup(*t, 0x1001, IpAddress{}), *r);
  ASSERT_TRUE(t->remove(SaKey::of(0x1001, local)));
  check("after remove");
  EXPECT_EQ(cache.lookup(*t, 0x1001, local), *r);  // falls back to the SPI alone again
  ASSERT_TRUE(t->remove(SaKey::of(0x1001)));
  check("after removing the rest");
  EXPECT_EQ(cache.lookup(*t, 0x1001, local), kNoSa);
}

TEST_F(SaTableTest, RefusesDuplicatesAndSpiZero) {
  auto t = make(small(8));
  ASSERT_TRUE(t);
  auto a = t->add(SaKey::of(0x1001, ip("192.0.2.1")));
  ASSERT_TRUE(a);
  auto dup = t->add(SaKey::of(0x1001, ip("192.0.2.1")));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), "adding SPI 0x00001001 on 192.0.2.1: already mapped to SA 0");
  auto zero = t->add(SaKey::of(0));
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), "adding SPI 0x00000000: SPI 0 is reserved");
  EXPECT_EQ(t->size(), 1u);
}

TEST_F(SaTableTest, InitRunsBeforeTheKeyIsVisible) {
  auto t = make(small(8));
  ASSERT_TRUE(t);
  std::vector<uint32_t> records(8, 0);
  SaIndex seen = kNoSa;
  SaIndex found_during_init = 0;
  auto a = t->add(SaKey::of(0x7777), [&](SaIndex i) {
    seen = i;
    records[i] = 0x7777;
    found_during_init = t->lookup_exact(SaKey::of(0x7777));
  });
  ASSERT_TRUE(a);
  EXPECT_EQ(seen, *a);
  EXPECT_EQ(records[*a], 0x7777u);
  EXPECT_EQ(found_during_init, kNoSa);  // not yet published
  EXPECT_EQ(t->lookup_exact(SaKey::of(0x7777)), *a);

  // A duplicate never calls init.
  bool called = false;
  const auto init = [&](SaIndex) { called = true; };
  EXPECT_FALSE(t->add(SaKey::of(0x7777), init));
  EXPECT_FALSE(called);
}

TEST_F(SaTableTest, BulkLookupMatchesSingleLookups) {
  auto t = make(small(256));
  ASSERT_TRUE(t);
  const IpAddress locals[] = {ip("192.0.2.10"), ip("2001:db8::10"), ip("198.51.100.10")};
  // SPIs 0x100..0x1ff: every third on a local address, the rest alone.
  for (uint32_t spi = 0x100; spi < 0x200; ++spi) {
    SaKey k = spi % 3 == 0 ? SaKey::of(spi, locals[spi % 2]) : SaKey::of(spi);
    ASSERT_TRUE(t->add(k)) << spi;
  }
  // 200 keys (several bulk chunks): hits, misses, wrong addresses.
  std::vector<SaKey> keys;
  for (uint32_t i = 0; i < 200; ++i) {
    const uint32_t spi = 0xf0 + i * 7 % 300;
    keys.push_back(i % 4 == 3 ? SaKey::of(spi) : SaKey::of(spi, locals[i % 3]));
  }
  std::vector<SaIndex> out(keys.size(), 12345);
  t->lookup_bulk(keys, out);
  int hits = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(out[i], t->lookup(keys[i].spi, keys[i].local)) << i;
    hits += out[i] != kNoSa;
  }
  EXPECT_GT(hits, 50);
  EXPECT_LT(hits, 200);

  // A table holding only SPI-alone keys, and one holding only keyed ones.
  auto plain = make(small(16));
  auto keyed = make(small(16));
  ASSERT_TRUE(plain && keyed);
  ASSERT_TRUE(plain->add(SaKey::of(0x900)));
  ASSERT_TRUE(keyed->add(SaKey::of(0x900, locals[0])));
  const std::array<SaKey, 3> probe = {SaKey::of(0x900, locals[0]), SaKey::of(0x900, locals[1]),
                                      SaKey::of(0x900)};
  std::array<SaIndex, 3> o1{}, o2{};
  plain->lookup_bulk(probe, o1);
  keyed->lookup_bulk(probe, o2);
  EXPECT_EQ(o1, (std::array<SaIndex, 3>{0, 0, 0}));
  EXPECT_EQ(o2, (std::array<SaIndex, 3>{0, kNoSa, kNoSa}));
}

TEST_F(SaTableTest, IndicesAreReusedOnlyAfterAQuiescentState) {
  std::vector<SaIndex> freed;
  SaTable::Options o = small(2);
  o.on_free = [](void* ctx, SaIndex i) { static_cast<std::vector<SaIndex>*>(ctx)->push_back(i); };
  o.on_free_context = &freed;
  auto t = make(o);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->register_reader(0));  // this thread plays the reader

  auto a = t->add(SaKey::of(0x1001));
  auto b = t->add(SaKey::of(0x1002));
  ASSERT_TRUE(a && b);
  auto full = t->add(SaKey::of(0x1003));
  ASSERT_FALSE(full);
  EXPECT_TRUE(contains(full.error(), "is full: 2 SAs live, 0 waiting")) << full.error();

  ASSERT_TRUE(t->remove(*a));
  EXPECT_EQ(t->pending(), 1u);
  t->reclaim();
  auto still = t->add(SaKey::of(0x1003));
  ASSERT_FALSE(still) << "the reader may still hold SA " << *a;
  EXPECT_TRUE(contains(still.error(), "1 waiting for an RCU grace period")) << still.error();
  EXPECT_TRUE(freed.empty());

  t->quiescent(0);
  auto c = t->add(SaKey::of(0x1003));  // reclaims by itself
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(*c, *a);
  EXPECT_EQ(freed, std::vector<SaIndex>{*a});
  EXPECT_EQ(t->pending(), 0u);
  t->unregister_reader(0);

  // Without registered readers the grace period is over at once.
  ASSERT_TRUE(t->remove(*b));
  t->reclaim();
  EXPECT_EQ(t->pending(), 0u);
  EXPECT_EQ(freed, (std::vector<SaIndex>{*a, *b}));
}

TEST_F(SaTableTest, DestructionFreesPendingIndices) {
  std::vector<SaIndex> freed;
  SaTable::Options o = small(4);
  o.on_free = [](void* ctx, SaIndex i) { static_cast<std::vector<SaIndex>*>(ctx)->push_back(i); };
  o.on_free_context = &freed;
  {
    auto t = make(o);
    ASSERT_TRUE(t);
    ASSERT_TRUE(t->register_reader(1));
    auto a = t->add(SaKey::of(0x1001));
    ASSERT_TRUE(a);
    ASSERT_TRUE(t->remove(*a));
    EXPECT_TRUE(freed.empty());
  }
  EXPECT_EQ(freed, std::vector<SaIndex>{0});
}

TEST_F(SaTableTest, DeleteReAddLoopDoesNotExhaustAnything) {
  auto t = make(small(16));
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->register_reader(3));
  for (uint32_t round = 0; round < 2000; ++round) {
    const SaKey k = round % 2 ? SaKey::of(0x1000 + round) : SaKey::of(0x1000 + round, ip("::1"));
    auto i = t->add(k);
    ASSERT_TRUE(i) << round << ": " << i.error();
    ASSERT_EQ(t->lookup(k.spi, k.local), *i);
    ASSERT_TRUE(t->remove(k));
    t->quiescent(3);
  }
  EXPECT_EQ(t->size(), 0u);
  t->unregister_reader(3);
}

TEST_F(SaTableTest, RefusesBadOptions) {
  SaTable::Options o;
  o.name = "";
  EXPECT_FALSE(SaTable::create(o));
  o.name = "a_name_too_long_";  // 16
  auto r = SaTable::create(o);
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error(), "must have 1 to 15 characters")) << r.error();
  o.name = "sa_bad";
  o.max_sas = 0;
  EXPECT_FALSE(SaTable::create(o));
  o.max_sas = 16;
  o.max_readers = 0;
  EXPECT_FALSE(SaTable::create(o));
  o.max_readers = 4;
  auto t = SaTable::create(o);
  ASSERT_TRUE(t) << t.error();
  auto twice = SaTable::create(o);
  ASSERT_FALSE(twice);
  EXPECT_TRUE(contains(twice.error(), "already in use")) << twice.error();
  EXPECT_FALSE((*t)->register_reader(4));
}

TEST_F(SaTableTest, LimitsMatchTheConfiguration) {
  // The table can hold every SA a configuration may declare.
  auto t = make(small(kMaxSas));
  ASSERT_TRUE(t);
  for (uint32_t i = 0; i < kMaxSas; ++i) {
    ASSERT_TRUE(t->add(SaKey::of(kMinSpi + i))) << i;
  }
  EXPECT_EQ(t->size(), kMaxSas);
  EXPECT_FALSE(t->add(SaKey::of(1u << 31)));
  EXPECT_EQ(t->lookup(kMinSpi + 12345, ip("192.0.2.1")), 12345u);
}

// A reader thread (not an EAL lcore) looks SPIs up while this thread adds
// and removes SAs: the record an index points to must belong to the SPI that
// was looked up until the reader's next quiescent state. The records are
// ours (as the ESP code owns its pool); on_free clears them.
TEST_F(SaTableTest, ConcurrentReaderNeverSeesAReusedIndex) {
  constexpr uint32_t kCap = 64;
  constexpr uint32_t kSpis = 256;
  struct Record {
    std::atomic<uint32_t> spi{0};
  };
  static std::array<Record, kCap> records;
  for (Record& r : records) r.spi = 0;
  SaTable::Options o = small(kCap);
  o.on_free = [](void*, SaIndex i) { records[i].spi.store(0, std::memory_order_relaxed); };
  auto t = make(o);
  ASSERT_TRUE(t);
  const IpAddress local = ip("192.0.2.10");
  // Two keys per SPI, one by the SPI alone and one with the local address,
  // so that SPIs switch between having keyed SAs and not.
  auto spi_of = [](uint32_t k) { return 0x1000 + k / 2; };
  auto key = [&](uint32_t k) { return k % 2 ? SaKey::of(spi_of(k)) : SaKey::of(spi_of(k), local); };

  std::atomic<bool> ready{false}, stop{false};
  std::atomic<uint64_t> hits{0}, lookups{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    tcpsec::testing::unpin_this_thread();
    constexpr unsigned kThread = 7;
    if (!t->register_reader(kThread)) {
      bad = 1;
      ready = true;
      return;
    }
    ready = true;
    uint64_t x = 88172645463325252ull, n = 0, h = 0, b = 0;
    auto check = [&](uint32_t spi, SaIndex i) {
      if (i == kNoSa) return;
      ++h;
      const uint32_t got = records[i].spi.load(std::memory_order_acquire);
      if (got != spi && b++ == 0) {
        first_bad = "SPI " + std::to_string(spi) + " -> SA " + std::to_string(i) + " holding SPI " +
                    std::to_string(got);
      }
    };
    std::array<SaKey, 32> burst;
    std::array<SaIndex, 32> out;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int j = 0; j < 8; ++j) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const uint32_t spi = 0x1000 + static_cast<uint32_t>(x % (kSpis / 2));
        const SaIndex i = t->lookup(spi, local);
        check(spi, i);
        for (int spin = 0; spin < 20; ++spin) rte_pause();
        check(spi, i);
        ++n;
      }
      for (uint32_t j = 0; j < 32; ++j) {
        burst[j] = SaKey::of(0x1000 + static_cast<uint32_t>((x + j) % (kSpis / 2)), local);
      }
      t->lookup_bulk(burst, out);
      for (uint32_t j = 0; j < 32; ++j) check(burst[j].spi, out[j]);
      n += 32;
      t->quiescent(kThread);
    }
    t->unregister_reader(kThread);
    lookups = n;
    hits = h;
    bad = b;
  });
  while (!ready) std::this_thread::yield();

  std::vector<bool> live(kSpis, false);
  uint64_t adds = 0, removes = 0, full = 0, errors = 0;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  const auto begin = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::steady_clock::now() - begin; };
  while ((elapsed() < std::chrono::seconds(1) || adds < 20 * kCap) &&
         elapsed() < std::chrono::seconds(10)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint32_t k = static_cast<uint32_t>(x % kSpis);
    if (live[k]) {
      if (!t->remove(key(k))) ++errors;
      live[k] = false;
      ++removes;
      continue;
    }
    auto i = t->add(
        key(k), [&](SaIndex idx) { records[idx].spi.store(spi_of(k), std::memory_order_relaxed); });
    if (!i) {
      ++full;  // indices wait for the reader's next quiescent state
      t->reclaim();
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    live[k] = true;
    ++adds;
  }
  stop = true;
  reader.join();
  std::printf("  writer: %lu adds, %lu removes, %lu table-full; reader: %lu lookups, %lu hits\n",
              static_cast<unsigned long>(adds), static_cast<unsigned long>(removes),
              static_cast<unsigned long>(full), static_cast<unsigned long>(lookups.load()),
              static_cast<unsigned long>(hits.load()));
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(bad.load(), 0u) << first_bad;
  EXPECT_GT(hits.load(), 1000u);
  EXPECT_GT(adds, 10u * kCap);
}

}  // namespace
}  // namespace tcpsec::sad

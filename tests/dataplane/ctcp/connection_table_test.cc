#include "dataplane/ctcp/connection_table.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/ctcp/flow_lookup_cache.h"
#include "tests/support/eal_environment.h"

namespace tcpsec::ctcp {
namespace {

using net::IpAddress;

IpAddress v4(uint32_t a) {
  return IpAddress::v4(a);
}
IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}

FlowKey flow(const IpAddress& local, const IpAddress& peer, uint16_t local_port,
             uint16_t peer_port) {
  FlowKey k;
  k.local = local;
  k.peer = peer;
  k.local_port = local_port;
  k.peer_port = peer_port;
  return k;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ConnectionTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status eal = tcpsec::testing::init_eal();
    ASSERT_TRUE(eal) << eal.message();
  }

  // A table with a name of its own (rte_hash names are process-wide).
  std::unique_ptr<ConnectionTable> make(ConnectionTable::Options o = {}) {
    static int counter = 0;
    o.name = "ct" + std::to_string(counter++);
    auto t = ConnectionTable::create(o);
    EXPECT_TRUE(t) << (t ? "" : t.error());
    return t ? std::move(*t) : nullptr;
  }

  static ConnectionTable::Options small(uint32_t max_connections) {
    ConnectionTable::Options o;
    o.max_connections = max_connections;
    return o;
  }
};

TEST_F(ConnectionTableTest, AddLookupRemoveV4AndV6) {
  auto t = make(small(1024));
  ASSERT_TRUE(t);
  const FlowKey a = flow(ip("192.0.2.1"), ip("198.51.100.7"), 40000, 4500);
  const FlowKey b = flow(ip("2001:db8::1"), ip("2001:db8:1::2"), 40000, 4500);

  auto ida = t->add(a, ConnState::kEstablished, 3, true);
  ASSERT_TRUE(ida) << ida.error();
  auto idb = t->add(b, ConnState::kSynReceived, 1, false);
  ASSERT_TRUE(idb) << idb.error();
  EXPECT_NE(*ida, *idb);
  EXPECT_EQ(t->size(), 2u);

  EXPECT_EQ(t->lookup_flow(a), *ida);
  EXPECT_EQ(t->lookup_flow(b), *idb);
  const Connection& ca = t->at(*ida);
  EXPECT_EQ(ca.key, a);
  EXPECT_EQ(ca.port_id, 3);
  EXPECT_TRUE(ca.we_initiated);
  EXPECT_EQ(ca.state.load(), ConnState::kEstablished);
  EXPECT_EQ(t->at(*idb).state.load(), ConnState::kSynReceived);

  // Any field that differs is another flow.
  FlowKey other = a;
  other.peer_port = 4501;
  EXPECT_EQ(t->lookup_flow(other), kNoConn);
  other = a;
  other.local_port = 40001;
  EXPECT_EQ(t->lookup_flow(other), kNoConn);
  other = b;
  other.peer = ip("2001:db8:1::3");
  EXPECT_EQ(t->lookup_flow(other), kNoConn);

  t->remove(*ida);
  EXPECT_EQ(t->lookup_flow(a), kNoConn);
  EXPECT_EQ(t->lookup_flow(b), *idb);
  EXPECT_EQ(t->at(*ida).state.load(), ConnState::kClosing);
  EXPECT_EQ(t->size(), 1u);
  t->remove(*ida);  // twice: no-op
  EXPECT_EQ(t->size(), 1u);
  t->remove(*idb);
  EXPECT_EQ(t->lookup_flow(b), kNoConn);
  EXPECT_EQ(t->size(), 0u);

  auto bad = t->add(a, ConnState::kFree, 0, false);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(contains(bad.error(), "192.0.2.1:40000")) << bad.error();
}

// The per-worker flow cache answers what lookup_flow answers after adds
// (over cached misses), removals and a record's reuse for another flow; more
// flows than entries collide and stay right.
TEST_F(ConnectionTableTest, FlowLookupCacheFollowsAddsAndRemovals) {
  auto t = make(small(256));
  ASSERT_TRUE(t);
  FlowLookupCache cache;
  std::vector<FlowKey> keys;
  for (uint16_t i = 0; i < 3 * FlowLookupCache::kEntries; ++i) {
    keys.push_back(
        flow(ip("192.0.2.1"), v4(0xc6336400 + i % 7), 443, static_cast<uint16_t>(1000 + i)));
  }
  keys.push_back(flow(ip("2001:db8::1"), ip("2001:db8::2"), 443, 1000));
  auto check = [&](const char* when) {
    for (int twice = 0; twice < 2; ++twice) {
      for (const FlowKey& k : keys) ASSERT_EQ(cache.lookup(*t, k), t->lookup_flow(k)) << when;
    }
  };
  check("empty");  // misses cached
  std::vector<ConnId> ids;
  for (size_t i = 0; i < keys.size(); i += 2) {
    auto id = t->add(keys[i], ConnState::kEstablished, 0, false);
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
  }
  check("after adds");
  EXPECT_NE(cache.lookup(*t, keys[0]), kNoConn);
  for (size_t i = 0; i < ids.size(); i += 3) t->remove(ids[i]);
  check("after removals");
  EXPECT_EQ(cache.lookup(*t, keys[0]), kNoConn);
  t->reclaim();  // no readers: removed records are free again
  auto reused = t->add(keys[1], ConnState::kEstablished, 0, false);
  ASSERT_TRUE(reused) << reused.error();
  check("after reuse");
  EXPECT_EQ(cache.lookup(*t, keys[1]), *reused);
}

TEST_F(ConnectionTableTest, RefusesDuplicateFlow) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const FlowKey a = flow(ip("2001:db8::1"), ip("2001:db8::2"), 1000, 4500);
  auto id = t->add(a, ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  auto dup = t->add(a, ConnState::kSynSent, 0, true);
  ASSERT_FALSE(dup);
  EXPECT_TRUE(contains(dup.error(), "[2001:db8::1]:1000 -> [2001:db8::2]:4500")) << dup.error();
  EXPECT_TRUE(contains(dup.error(), "already belongs to connection " + std::to_string(*id)))
      << dup.error();
  EXPECT_EQ(t->size(), 1u);
  t->remove(*id);
  EXPECT_TRUE(t->add(a, ConnState::kSynSent, 0, true));
}

TEST_F(ConnectionTableTest, BulkLookup) {
  auto t = make(small(1024));
  ASSERT_TRUE(t);
  constexpr int kKeys = 64;
  std::vector<FlowKey> keys;
  for (int i = 0; i < kKeys; ++i) {
    IpAddress peer = i % 3 == 0 ? ip(("2001:db8::" + std::to_string(i + 1)).c_str())
                                : v4(0xC6336400u + static_cast<uint32_t>(i));
    IpAddress local = peer.is_v6() ? ip("2001:db8:ffff::1") : ip("192.0.2.1");
    keys.push_back(flow(local, peer, static_cast<uint16_t>(30000 + i), 4500));
  }
  std::vector<ConnId> expect(kKeys, kNoConn);
  for (int i = 0; i < kKeys; i += 2) {
    auto id = t->add(keys[i], ConnState::kEstablished, 0, false);
    ASSERT_TRUE(id) << id.error();
    expect[i] = *id;
  }
  std::vector<const FlowKey*> ptrs;
  for (const FlowKey& k : keys) ptrs.push_back(&k);

  for (size_t n : {size_t{1}, size_t{7}, size_t{32}, size_t{64}}) {
    std::vector<ConnId> out(n, 12345);
    t->lookup_flow_bulk(std::span<const FlowKey* const>(ptrs.data(), n), out);
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(out[i], expect[i]) << "n " << n << " key " << i;
  }
}

TEST_F(ConnectionTableTest, IkeRekeyKeepsPreviousSetUntilAThirdArrives) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress local = ip("192.0.2.1"), peer = ip("192.0.2.2");
  auto id = t->add(flow(local, peer, 500, 500), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  const Connection& c = t->at(*id);
  constexpr uint64_t kA = 0xA1A1A1A1A1A1A1A1, kB = 0xB2, kC = 0xC3C3;

  ASSERT_TRUE(t->add_ike(*id, {kA, 0}));
  EXPECT_EQ(t->lookup_ike(local, peer, kA), *id);
  ASSERT_TRUE(t->add_ike(*id, {kA, 0x77}));  // responder SPI learnt
  EXPECT_EQ(c.ike[0].initiator, kA);
  EXPECT_EQ(c.ike[0].responder, 0x77u);
  EXPECT_TRUE(c.ike[1].empty());

  // Rekey: B becomes current, A stays mapped so it can send its delete.
  ASSERT_TRUE(t->add_ike(*id, {kB, 0x88}));
  EXPECT_EQ(t->lookup_ike(local, peer, kA), *id);
  EXPECT_EQ(t->lookup_ike(local, peer, kB), *id);
  EXPECT_EQ(c.ike[0].initiator, kB);
  EXPECT_EQ(c.ike[1].initiator, kA);
  EXPECT_EQ(c.ike[1].responder, 0x77u);

  // A third: A falls off.
  ASSERT_TRUE(t->add_ike(*id, {kC, 0}));
  EXPECT_EQ(t->lookup_ike(local, peer, kA), kNoConn);
  EXPECT_EQ(t->lookup_ike(local, peer, kB), *id);
  EXPECT_EQ(t->lookup_ike(local, peer, kC), *id);
  EXPECT_EQ(c.ike[0].initiator, kC);
  EXPECT_EQ(c.ike[1].initiator, kB);

  // The old SA is deleted.
  ASSERT_TRUE(t->remove_ike(*id, kB));
  EXPECT_EQ(t->lookup_ike(local, peer, kB), kNoConn);
  EXPECT_EQ(t->lookup_ike(local, peer, kC), *id);
  EXPECT_TRUE(c.ike[1].empty());
  Status again = t->remove_ike(*id, kB);
  ASSERT_FALSE(again);
  EXPECT_TRUE(contains(again.message(), "0x00000000000000b2")) << again.message();
  EXPECT_TRUE(contains(again.message(), "connection " + std::to_string(*id))) << again.message();

  // Another connection between the same addresses can not take C...
  auto id2 = t->add(flow(local, peer, 501, 500), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id2);
  Status taken = t->add_ike(*id2, {kC, 0});
  ASSERT_FALSE(taken);
  EXPECT_TRUE(contains(taken.message(), "already mapped to connection " + std::to_string(*id)))
      << taken.message();
  // ...but the same SPI between other addresses is another key.
  auto id3 = t->add(flow(local, ip("192.0.2.3"), 500, 500), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id3);
  EXPECT_TRUE(t->add_ike(*id3, {kC, 0}));
  EXPECT_FALSE(t->add_ike(*id3, {0, 5}));  // zero initiator SPI

  t->remove(*id);
  EXPECT_EQ(t->lookup_ike(local, peer, kC), kNoConn);
  EXPECT_EQ(t->lookup_ike(local, ip("192.0.2.3"), kC), *id3);
  Status dead = t->add_ike(*id, {kA, 0});
  ASSERT_FALSE(dead);
  EXPECT_TRUE(contains(dead.message(), "connection " + std::to_string(*id) + " is not in use"))
      << dead.message();
}

TEST_F(ConnectionTableTest, EspSpiLimitPerConnection) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress local = ip("2001:db8::1"), peer = ip("2001:db8::2");
  auto id = t->add(flow(local, peer, 7, 7), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  for (uint32_t spi = 1; spi <= 64; ++spi) ASSERT_TRUE(t->add_esp(*id, spi)) << spi;
  EXPECT_EQ(t->at(*id).esp_sa_count, 64);
  EXPECT_EQ(t->esp_spis(*id).size(), 64u);
  for (uint32_t spi = 1; spi <= 64; ++spi) EXPECT_EQ(t->lookup_esp(local, peer, spi), *id);

  Status full = t->add_esp(*id, 0x41);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.message(), "ESP SPI 0x00000041 of connection " + std::to_string(*id) +
                                ": connection already has 64 SAs (max_sas_per_connection)");
  EXPECT_EQ(t->lookup_esp(local, peer, 0x41), kNoConn);

  EXPECT_TRUE(t->add_esp(*id, 5));  // already mapped here: no-op
  EXPECT_EQ(t->at(*id).esp_sa_count, 64);

  ASSERT_TRUE(t->remove_esp(*id, 5));
  EXPECT_EQ(t->lookup_esp(local, peer, 5), kNoConn);
  EXPECT_EQ(t->at(*id).esp_sa_count, 63);
  EXPECT_FALSE(t->remove_esp(*id, 5));
  EXPECT_TRUE(t->add_esp(*id, 0x41));
  EXPECT_EQ(t->esp_spis(*id).size(), 64u);

  auto id2 = t->add(flow(local, peer, 8, 7), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id2);
  Status taken = t->add_esp(*id2, 0x41);
  ASSERT_FALSE(taken);
  EXPECT_TRUE(contains(taken.message(), "already mapped to connection " + std::to_string(*id)))
      << taken.message();
  EXPECT_FALSE(t->add_esp(*id2, 0));  // reserved

  ConnectionTable::Options o = small(8);
  o.max_sas_per_connection = 2;
  auto t2 = make(o);
  ASSERT_TRUE(t2);
  auto x = t2->add(flow(local, peer, 7, 7), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(x);
  EXPECT_TRUE(t2->add_esp(*x, 1));
  EXPECT_TRUE(t2->add_esp(*x, 2));
  EXPECT_FALSE(t2->add_esp(*x, 3));
}

TEST_F(ConnectionTableTest, RemoveClearsEveryKey) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress local = ip("192.0.2.1"), peer = ip("203.0.113.9");
  const FlowKey k = flow(local, peer, 12345, 443);
  auto id = t->add(k, ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  ASSERT_TRUE(t->add_ike(*id, {11, 12}));
  ASSERT_TRUE(t->add_ike(*id, {21, 22}));
  for (uint32_t spi = 100; spi < 110; ++spi) ASSERT_TRUE(t->add_esp(*id, spi));

  // The connection logic may mark the record closing before removing it.
  t->at(*id).state.store(ConnState::kClosing);
  t->remove(*id);
  EXPECT_EQ(t->lookup_flow(k), kNoConn);
  EXPECT_EQ(t->lookup_ike(local, peer, 11), kNoConn);
  EXPECT_EQ(t->lookup_ike(local, peer, 21), kNoConn);
  for (uint32_t spi = 100; spi < 110; ++spi) EXPECT_EQ(t->lookup_esp(local, peer, spi), kNoConn);
  EXPECT_TRUE(t->esp_spis(*id).empty());
  EXPECT_EQ(t->size(), 0u);
  EXPECT_FALSE(t->add_esp(*id, 1));

  // Every key is free for another connection.
  auto id2 = t->add(k, ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id2);
  EXPECT_TRUE(t->add_ike(*id2, {11, 0}));
  EXPECT_TRUE(t->add_ike(*id2, {21, 0}));
  for (uint32_t spi = 100; spi < 110; ++spi) EXPECT_TRUE(t->add_esp(*id2, spi));
  EXPECT_EQ(t->lookup_esp(local, peer, 105), *id2);
}

TEST_F(ConnectionTableTest, RecordsAreReusedOnlyAfterAQuiescentState) {
  auto t = make(small(4));
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->register_reader(0));  // this thread plays the reader
  EXPECT_FALSE(t->register_reader(16));
  std::vector<ConnId> ids;
  for (uint16_t p = 1; p <= 4; ++p) {
    auto id = t->add(flow(v4(1), v4(2), p, 1), ConnState::kEstablished, 0, false);
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
  }
  auto full = t->add(flow(v4(1), v4(2), 5, 1), ConnState::kEstablished, 0, false);
  ASSERT_FALSE(full);
  EXPECT_TRUE(contains(full.error(), "is full: 4 connections live, 0 waiting")) << full.error();

  const ConnId victim = ids[2];
  const FlowKey old_key = t->at(victim).key;
  t->remove(victim);
  t->reclaim();
  // The reader may still hold `victim`: the record stays as it was.
  auto early = t->add(flow(v4(1), v4(2), 6, 1), ConnState::kEstablished, 0, false);
  ASSERT_FALSE(early);
  EXPECT_TRUE(contains(early.error(), "3 connections live, 1 waiting for an RCU grace period"))
      << early.error();
  EXPECT_EQ(t->at(victim).state.load(), ConnState::kClosing);
  EXPECT_EQ(t->at(victim).key, old_key);

  t->quiescent(0);
  auto later = t->add(flow(v4(1), v4(2), 7, 1), ConnState::kSynSent, 0, true);
  ASSERT_TRUE(later) << later.error();
  EXPECT_EQ(*later, victim);
  EXPECT_EQ(t->at(victim).state.load(), ConnState::kSynSent);
  EXPECT_EQ(t->at(victim).key.local_port, 7);

  // An offline (unregistered) reader holds nothing back.
  t->unregister_reader(0);
  t->remove(ids[0]);
  auto now = t->add(flow(v4(1), v4(2), 8, 1), ConnState::kEstablished, 0, false);
  ASSERT_TRUE(now) << now.error();
  EXPECT_EQ(*now, ids[0]);
}

// Deleted rte_hash slots (lock-free mode) come back only through the RCU
// defer queues: churn well past every table's capacity.
TEST_F(ConnectionTableTest, DeleteReAddLoopDoesNotExhaustAnything) {
  constexpr uint32_t kCap = 64;
  ConnectionTable::Options o = small(kCap);
  o.max_sas_per_connection = 4;  // ESP table: 4 * kCap, exactly full below
  auto t = make(o);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->register_reader(3));
  const IpAddress local = ip("192.0.2.1");
  uint32_t serial = 0;

  // Whole table at capacity (flows, 2 IKE SAs and 4 ESP SAs each), then
  // emptied, five times.
  for (int round = 0; round < 5; ++round) {
    std::vector<ConnId> ids;
    for (uint32_t i = 0; i < kCap; ++i) {
      ++serial;
      const IpAddress peer = v4(0x0A000000u + serial);
      auto id = t->add(flow(local, peer, 4500, 4500), ConnState::kEstablished, 0, true);
      ASSERT_TRUE(id) << "round " << round << ": " << id.error();
      ASSERT_TRUE(t->add_ike(*id, {serial * 2ull, 0}));
      ASSERT_TRUE(t->add_ike(*id, {serial * 2ull + 1, 0}));
      for (uint32_t s = 1; s <= 4; ++s) {
        Status st = t->add_esp(*id, s);
        ASSERT_TRUE(st) << "round " << round << ": " << st.message();
      }
      ids.push_back(*id);
    }
    EXPECT_EQ(t->size(), kCap);
    for (ConnId id : ids) t->remove(id);
    t->quiescent(3);
  }

  // One free slot churned 5x capacity times next to a full table, with a
  // rekey on each connection.
  std::vector<ConnId> keep;
  for (uint32_t i = 0; i + 1 < kCap; ++i) {
    auto id =
        t->add(flow(local, v4(0x0B000000u + i), 4500, 4500), ConnState::kEstablished, 0, true);
    ASSERT_TRUE(id) << id.error();
    ASSERT_TRUE(t->add_ike(*id, {0xF000000000000000ull + i, 0}));
    keep.push_back(*id);
  }
  for (uint32_t i = 0; i < 5 * kCap; ++i) {
    ++serial;
    auto id =
        t->add(flow(local, v4(0x0A000000u + serial), 4500, 4500), ConnState::kEstablished, 0, true);
    ASSERT_TRUE(id) << "iteration " << i << ": " << id.error();
    for (uint64_t spi = 1; spi <= 3; ++spi) {
      Status st = t->add_ike(*id, {(uint64_t{serial} << 8) + spi, 0});
      ASSERT_TRUE(st) << st.message();
    }
    for (uint32_t s = 1; s <= 4; ++s) ASSERT_TRUE(t->add_esp(*id, s));
    t->remove(*id);
    t->quiescent(3);
  }
  EXPECT_EQ(t->size(), kCap - 1);

  // Rekeying one connection again and again in a minimal IKE table.
  ConnectionTable::Options o2 = small(8);
  o2.max_ike_entries = 8;
  auto t2 = make(o2);
  ASSERT_TRUE(t2);
  auto id = t2->add(flow(local, local, 1, 1), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  for (uint64_t spi = 1; spi <= 5 * 8 * 4; ++spi) {
    Status st = t2->add_ike(*id, {spi, 0});
    ASSERT_TRUE(st) << spi << ": " << st.message();
    if (spi % 3 == 0) {
      ASSERT_TRUE(t2->remove_ike(*id, spi - 1));
    }
  }
  t->unregister_reader(3);
}

TEST_F(ConnectionTableTest, PickLocalPortFixed) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress local = ip("192.0.2.1"), peer = ip("192.0.2.2");
  auto id = t->add(flow(local, peer, 40000, 4500), ConnState::kEstablished, 0, true);
  ASSERT_TRUE(id);
  auto taken = t->pick_local_port(local, peer, 4500, 40000, 1024, 65535);
  ASSERT_FALSE(taken);
  EXPECT_TRUE(contains(taken.error(), "local port 40000")) << taken.error();
  EXPECT_TRUE(contains(taken.error(), "in use by connection " + std::to_string(*id)))
      << taken.error();
  auto other_port = t->pick_local_port(local, peer, 4500, 40001, 1024, 65535);
  ASSERT_TRUE(other_port);
  EXPECT_EQ(*other_port, 40001);
  auto other_peer_port = t->pick_local_port(local, peer, 500, 40000, 1024, 65535);
  ASSERT_TRUE(other_peer_port);
  EXPECT_EQ(*other_peer_port, 40000);
  EXPECT_FALSE(t->pick_local_port(local, peer, 4500, 0, 2000, 1000));
}

TEST_F(ConnectionTableTest, PickLocalPortRandomNeverCollides) {
  auto t = make(small(64));
  ASSERT_TRUE(t);
  const IpAddress local = ip("2001:db8::1"), peer = ip("2001:db8::2");
  constexpr uint16_t kMin = 50000, kMax = 50015;
  std::set<uint16_t> used;
  std::vector<ConnId> ids;
  for (int i = 0; i <= kMax - kMin; ++i) {
    auto port = t->pick_local_port(local, peer, 4500, 0, kMin, kMax);
    ASSERT_TRUE(port) << i << ": " << port.error();
    EXPECT_GE(*port, kMin);
    EXPECT_LE(*port, kMax);
    EXPECT_TRUE(used.insert(*port).second) << *port << " picked twice";
    auto id = t->add(flow(local, peer, *port, 4500), ConnState::kSynSent, 0, true);
    ASSERT_TRUE(id) << id.error();
    ids.push_back(*id);
  }
  auto none = t->pick_local_port(local, peer, 4500, 0, kMin, kMax);
  ASSERT_FALSE(none);
  EXPECT_TRUE(contains(none.error(), "no free local port in [50000, 50015]")) << none.error();

  // Another peer port is another flow: the whole range is free there.
  EXPECT_TRUE(t->pick_local_port(local, peer, 500, 0, kMin, kMax));
  // Free exactly one: it is the one picked.
  const uint16_t freed = t->at(ids[7]).key.local_port;
  t->remove(ids[7]);
  auto port = t->pick_local_port(local, peer, 4500, 0, kMin, kMax);
  ASSERT_TRUE(port) << port.error();
  EXPECT_EQ(*port, freed);
}

TEST_F(ConnectionTableTest, RefusesBadOptions) {
  ConnectionTable::Options o;
  o.name = "a_name_that_is_far_too_long";
  auto t = ConnectionTable::create(o);
  ASSERT_FALSE(t);
  EXPECT_TRUE(contains(t.error(), o.name)) << t.error();
  o.name = "ok";
  o.max_connections = 0;
  EXPECT_FALSE(ConnectionTable::create(o));
  o.max_connections = 8;
  o.max_sas_per_connection = 0;
  EXPECT_FALSE(ConnectionTable::create(o));
  // Names are process-wide: a second table of the same name is refused.
  o.max_sas_per_connection = 4;
  auto first = ConnectionTable::create(o);
  ASSERT_TRUE(first) << first.error();
  auto second = ConnectionTable::create(o);
  ASSERT_FALSE(second);
  EXPECT_TRUE(contains(second.error(), "'ok'")) << second.error();
  // 15 characters is the most a name may have.
  o.name = "fifteen_chars_x";
  EXPECT_TRUE(ConnectionTable::create(o));
}

TEST_F(ConnectionTableTest, OneMillionConnections) {
  constexpr uint32_t kN = 1u << 20;
  auto start = std::chrono::steady_clock::now();
  auto lap = [&](const char* what) {
    auto now = std::chrono::steady_clock::now();
    std::printf("  %-28s %6.0f ms\n", what,
                std::chrono::duration<double, std::milli>(now - start).count());
    start = now;
  };
  auto allocated_mib = [] {
    rte_malloc_socket_stats stats{};
    rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &stats);
    return stats.heap_allocsz_bytes >> 20;
  };
  const size_t before = allocated_mib();
  auto t = make(small(kN));
  ASSERT_TRUE(t);
  lap("create");
  std::printf("  table memory                %6zu MiB\n", allocated_mib() - before);
  const IpAddress local = ip("192.0.2.1");
  auto key = [&](uint32_t i) {
    return flow(local, v4(0x0A000000u + (i >> 4)), static_cast<uint16_t>(40000 + (i & 15)), 4500);
  };
  for (uint32_t i = 0; i < kN; ++i) {
    auto id = t->add(key(i), ConnState::kEstablished, 0, true);
    ASSERT_TRUE(id) << i << ": " << id.error();
    ASSERT_EQ(*id, i);  // fresh table hands out 0, 1, 2, ...
  }
  EXPECT_EQ(t->size(), kN);
  EXPECT_FALSE(t->add(key(kN), ConnState::kEstablished, 0, true));
  lap("add 1M");
  for (uint32_t i = 0; i < kN; ++i) ASSERT_EQ(t->lookup_flow(key(i)), i);
  lap("lookup 1M");
  {
    std::array<FlowKey, 32> keys;
    std::array<const FlowKey*, 32> ptrs;
    std::array<ConnId, 32> out;
    for (uint32_t i = 0; i < kN; i += 32) {
      for (uint32_t j = 0; j < 32; ++j) {
        keys[j] = key(i + j);
        ptrs[j] = &keys[j];
      }
      t->lookup_flow_bulk(ptrs, out);
      for (uint32_t j = 0; j < 32; ++j) ASSERT_EQ(out[j], i + j);
    }
  }
  lap("bulk lookup 1M");
  for (uint32_t i = 0; i < kN; ++i) t->remove(i);
  EXPECT_EQ(t->size(), 0u);
  for (uint32_t i = 0; i < kN; i += 4097) ASSERT_EQ(t->lookup_flow(key(i)), kNoConn);
  lap("remove 1M");
  // And the table fills again.
  for (uint32_t i = 0; i < kN; ++i) {
    auto id = t->add(key(i), ConnState::kEstablished, 0, true);
    ASSERT_TRUE(id) << i << ": " << id.error();
  }
  lap("re-add 1M");
  t.reset();
  lap("destroy");
}

// A reader thread (not an EAL lcore) looks connections up while this thread
// adds and removes them: every record a lookup returns must still be the one
// that was looked up, until the reader's next quiescent state.
TEST_F(ConnectionTableTest, ConcurrentReaderNeverSeesAReusedRecord) {
  constexpr uint32_t kCap = 128;
  constexpr uint32_t kKeys = 512;
  auto t = make(small(kCap));
  ASSERT_TRUE(t);
  std::vector<FlowKey> keys;
  for (uint32_t i = 0; i < kKeys; ++i) {
    IpAddress peer = i % 2 ? v4(0x0A000000u + i) : ip(("2001:db8::" + std::to_string(i)).c_str());
    IpAddress local = peer.is_v6() ? ip("2001:db8:ffff::1") : ip("192.0.2.1");
    keys.push_back(flow(local, peer, static_cast<uint16_t>(1000 + i), 4500));
  }

  std::atomic<bool> ready{false}, stop{false};
  std::atomic<uint64_t> hits{0}, lookups{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    tcpsec::testing::unpin_this_thread();  // off the writer's CPU
    constexpr unsigned kThread = 5;
    if (!t->register_reader(kThread)) {
      bad.fetch_add(1);
      ready = true;
      return;
    }
    ready = true;
    uint64_t x = 88172645463325252ull;  // xorshift
    uint64_t n = 0, h = 0, b = 0;
    auto check = [&](uint32_t k, ConnId id) {
      if (id == kNoConn) return;
      ++h;
      const Connection& c = t->at(id);
      ConnState s = c.state.load(std::memory_order_acquire);
      if (!(c.key == keys[k]) || s == ConnState::kFree) {
        if (b++ == 0)
          first_bad = "key " + std::to_string(k) + " -> conn " + std::to_string(id) + " state " +
                      std::to_string(static_cast<int>(s));
      }
    };
    while (!stop.load(std::memory_order_relaxed)) {
      for (int burst = 0; burst < 8; ++burst) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const uint32_t k = static_cast<uint32_t>(x % kKeys);
        ++n;
        const ConnId id = t->lookup_flow(keys[k]);
        check(k, id);
        check(k, t->lookup_ike(keys[k].local, keys[k].peer, k + 1));
        check(k, t->lookup_esp(keys[k].local, keys[k].peer, k + 1));
        // Hold the record a little, then look at it again.
        for (int spin = 0; spin < 20; ++spin) rte_pause();
        check(k, id);
      }
      std::array<const FlowKey*, 32> ptrs;
      std::array<ConnId, 32> out;
      const uint32_t base = static_cast<uint32_t>(x % (kKeys - 32));
      for (uint32_t j = 0; j < 32; ++j) ptrs[j] = &keys[base + j];
      t->lookup_flow_bulk(ptrs, out);
      for (uint32_t j = 0; j < 32; ++j) check(base + j, out[j]);
      n += 32;
      t->quiescent(kThread);
    }
    t->unregister_reader(kThread);
    lookups = n;
    hits = h;
    bad = b;
  });
  while (!ready) std::this_thread::yield();

  std::vector<ConnId> live(kKeys, kNoConn);
  uint64_t adds = 0, removes = 0, full = 0, writer_errors = 0;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  // About a second, and long enough for every record to be reused many
  // times even on a loaded machine.
  const auto begin = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::steady_clock::now() - begin; };
  while ((elapsed() < std::chrono::seconds(1) || adds < 20 * kCap) &&
         elapsed() < std::chrono::seconds(10)) {
    for (int i = 0; i < 64; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const uint32_t k = static_cast<uint32_t>(x % kKeys);
      if (live[k] != kNoConn) {
        t->remove(live[k]);
        live[k] = kNoConn;
        ++removes;
        continue;
      }
      auto id = t->add(keys[k], ConnState::kEstablished, 0, true);
      if (!id) {
        ++full;  // records wait for the reader's next quiescent state
        t->reclaim();
        std::this_thread::sleep_for(std::chrono::microseconds(20));
        continue;
      }
      // No ASSERT here: the reader thread must be joined first.
      if (!t->add_ike(*id, {k + 1, 0}) || !t->add_esp(*id, k + 1)) ++writer_errors;
      live[k] = *id;
      ++adds;
    }
  }
  stop = true;
  reader.join();
  std::printf("  writer: %lu adds, %lu removes, %lu table-full; reader: %lu lookups, %lu hits\n",
              static_cast<unsigned long>(adds), static_cast<unsigned long>(removes),
              static_cast<unsigned long>(full), static_cast<unsigned long>(lookups.load()),
              static_cast<unsigned long>(hits.load()));
  EXPECT_EQ(writer_errors, 0u);
  EXPECT_EQ(bad.load(), 0u) << first_bad;
  EXPECT_GT(hits.load(), 1000u);
  EXPECT_GT(adds, 10u * kCap);  // records were reused many times
}

}  // namespace
}  // namespace tcpsec::ctcp

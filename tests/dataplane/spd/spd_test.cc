#include "dataplane/spd/spd.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/config/config_loader.h"
#include "dataplane/spd/policy.h"
#include "dataplane/spd/spd_flow_cache.h"
#include "tests/support/eal_environment.h"

namespace tcpsec::spd {
namespace {

using net::IpAddress;
using net::IpPrefix;

IpAddress ip(const char* text) {
  return *IpAddress::parse(text);
}
IpPrefix prefix(const char* text) {
  return *IpPrefix::parse(text);
}

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

Policy policy(Direction d, uint32_t priority, Action a, uint32_t spi = 0) {
  Policy p;
  p.direction = d;
  p.priority = priority;
  p.action = a;
  p.sa_spi = spi;
  return p;
}

// The specification: the matching policy of direction `d` with the lowest
// priority value, ties to the earlier one.
uint32_t reference(const std::vector<Policy>& ps, Direction d, const IpAddress& src,
                   const IpAddress& dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  uint32_t best = kNoPolicy;
  for (uint32_t i = 0; i < ps.size(); ++i) {
    if (ps[i].direction != d || !ps[i].match.matches(d, src, dst, proto, sport, dport)) continue;
    if (best == kNoPolicy || ps[i].priority < ps[best].priority) best = i;
  }
  return best;
}

class SpdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status eal = tcpsec::testing::init_eal();
    ASSERT_TRUE(eal) << eal.message();
  }

  static std::unique_ptr<Spd> build(const std::vector<Policy>& ps, Spd::Options o = {}) {
    auto s = Spd::build(ps, o);
    EXPECT_TRUE(s) << (s ? "" : s.error());
    return s ? std::move(*s) : nullptr;
  }

  // Classifies one packet.
  static uint32_t one(const Spd& spd, Direction d, const IpAddress& src, const IpAddress& dst,
                      uint8_t proto, uint16_t sport = 0, uint16_t dport = 0) {
    uint32_t out = 12345;
    if (src.is_v4()) {
      const SpdKey4 k = make_key4(src, dst, proto, sport, dport);
      const SpdKey4* p = &k;
      spd.classify(d, &p, &out, 1);
    } else {
      const SpdKey6 k = make_key6(src, dst, proto, sport, dport);
      const SpdKey6* p = &k;
      spd.classify(d, &p, &out, 1);
    }
    return out;
  }
};

TEST_F(SpdTest, EmptySpdMatchesNothingAndGivesTheDefaultAction) {
  auto spd = build({});
  ASSERT_TRUE(spd);
  EXPECT_EQ(one(*spd, Direction::kOutbound, ip("10.0.0.1"), ip("10.1.0.1"), kTcp, 1, 2), kNoPolicy);
  EXPECT_EQ(one(*spd, Direction::kInbound, ip("2001:db8::1"), ip("2001:db8::2"), kUdp), kNoPolicy);
  Verdict v = spd->verdict(kNoPolicy);
  EXPECT_EQ(v.action, Action::kDiscard);
  EXPECT_EQ(v.policy, kNoPolicy);
  EXPECT_EQ(v.sa_spi, 0u);

  Spd::Options o;
  o.default_action = Action::kBypass;
  auto bypass = build({}, o);
  ASSERT_TRUE(bypass);
  EXPECT_EQ(bypass->verdict(kNoPolicy).action, Action::kBypass);
  EXPECT_EQ(bypass->default_action(), Action::kBypass);
}

TEST_F(SpdTest, VerdictCarriesActionAndSa) {
  Policy p = policy(Direction::kOutbound, 5, Action::kProtect, 0x1001);
  Policy q = policy(Direction::kInbound, 5, Action::kBypass, 0x9999);  // SPI ignored
  auto spd = build({p, q});
  ASSERT_TRUE(spd);
  const uint32_t r = one(*spd, Direction::kOutbound, ip("10.0.0.1"), ip("10.1.0.1"), kTcp, 1, 2);
  ASSERT_EQ(r, 0u);
  EXPECT_EQ(spd->verdict(r).action, Action::kProtect);
  EXPECT_EQ(spd->verdict(r).sa_spi, 0x1001u);
  EXPECT_EQ(spd->verdict(r).policy, 0u);
  const uint32_t s = one(*spd, Direction::kInbound, ip("10.1.0.1"), ip("10.0.0.1"), kTcp, 1, 2);
  ASSERT_EQ(s, 1u);
  EXPECT_EQ(spd->verdict(s).action, Action::kBypass);
  EXPECT_EQ(spd->verdict(s).sa_spi, 0u);
  EXPECT_EQ(spd->size(), 2u);
  EXPECT_EQ(spd->rule_count(), 4u);  // each: any/any in both families
}

TEST_F(SpdTest, MatchesEachFieldOutbound) {
  // Outbound: local is the source, remote the destination.
  Policy p = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  p.match.local = {prefix("10.0.0.0/24")};
  p.match.remote = {prefix("10.1.0.0/16")};
  p.match.protocol = kTcp;
  p.match.local_ports = {1000, 2000};
  p.match.remote_ports = {443, 443};
  auto spd = build({p});
  ASSERT_TRUE(spd);
  const Direction out = Direction::kOutbound;
  EXPECT_EQ(one(*spd, out, ip("10.0.0.7"), ip("10.1.2.3"), kTcp, 1500, 443), 0u);
  EXPECT_EQ(one(*spd, out, ip("10.0.1.7"), ip("10.1.2.3"), kTcp, 1500, 443), kNoPolicy)  // src
      << "source outside local";
  EXPECT_EQ(one(*spd, out, ip("10.0.0.7"), ip("10.2.2.3"), kTcp, 1500, 443), kNoPolicy)
      << "destination outside remote";
  EXPECT_EQ(one(*spd, out, ip("10.0.0.7"), ip("10.1.2.3"), kUdp, 1500, 443), kNoPolicy)
      << "protocol";
  EXPECT_EQ(one(*spd, out, ip("10.0.0.7"), ip("10.1.2.3"), kTcp, 999, 443), kNoPolicy)
      << "source port";
  EXPECT_EQ(one(*spd, out, ip("10.0.0.7"), ip("10.1.2.3"), kTcp, 1500, 444), kNoPolicy)
      << "destination port";
  // Swapped addresses are the inbound view: no outbound match.
  EXPECT_EQ(one(*spd, out, ip("10.1.2.3"), ip("10.0.0.7"), kTcp, 443, 1500), kNoPolicy);
  // And the inbound direction has no policies at all.
  EXPECT_EQ(one(*spd, Direction::kInbound, ip("10.1.2.3"), ip("10.0.0.7"), kTcp, 443, 1500),
            kNoPolicy);
}

TEST_F(SpdTest, MatchesEachFieldInbound) {
  // Inbound: remote is the source, local the destination.
  Policy p = policy(Direction::kInbound, 1, Action::kProtect, 0x2001);
  p.match.local = {prefix("10.0.0.0/24")};
  p.match.remote = {prefix("10.1.0.0/16")};
  p.match.protocol = kUdp;
  p.match.local_ports = {53, 53};
  p.match.remote_ports = {1024, 65535};
  auto spd = build({p});
  ASSERT_TRUE(spd);
  const Direction in = Direction::kInbound;
  EXPECT_EQ(one(*spd, in, ip("10.1.9.9"), ip("10.0.0.2"), kUdp, 40000, 53), 0u);
  EXPECT_EQ(one(*spd, in, ip("10.0.0.2"), ip("10.1.9.9"), kUdp, 53, 40000), kNoPolicy);
  EXPECT_EQ(one(*spd, in, ip("10.1.9.9"), ip("10.0.0.2"), kUdp, 1023, 53), kNoPolicy);
  EXPECT_EQ(one(*spd, in, ip("10.1.9.9"), ip("10.0.0.2"), kUdp, 40000, 54), kNoPolicy);
  EXPECT_EQ(one(*spd, in, ip("10.1.9.9"), ip("10.0.0.2"), kTcp, 40000, 53), kNoPolicy);
  EXPECT_EQ(one(*spd, Direction::kOutbound, ip("10.0.0.2"), ip("10.1.9.9"), kUdp, 53, 40000),
            kNoPolicy);
}

TEST_F(SpdTest, PortRangeBoundaries) {
  Policy p = policy(Direction::kOutbound, 1, Action::kBypass);
  p.match.protocol = kTcp;
  p.match.remote_ports = {1000, 1999};
  Policy q = policy(Direction::kOutbound, 2, Action::kDiscard);
  q.match.protocol = kTcp;
  q.match.local_ports = {0, 0};  // exactly port 0
  auto spd = build({p, q});
  ASSERT_TRUE(spd);
  const IpAddress a = ip("192.0.2.1"), b = ip("198.51.100.1");
  const Direction out = Direction::kOutbound;
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 7, 999), kNoPolicy);
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 7, 1000), 0u);
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 7, 1999), 0u);
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 7, 2000), kNoPolicy);
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 0, 2000), 1u);
  EXPECT_EQ(one(*spd, out, a, b, kTcp, 65535, 65535), kNoPolicy);
  // Byte order: 0x0102 must not match a range meant for 0x0201.
  Policy r = policy(Direction::kOutbound, 1, Action::kBypass);
  r.match.protocol = kUdp;
  r.match.local_ports = {0x0102, 0x0102};
  auto spd2 = build({r});
  ASSERT_TRUE(spd2);
  EXPECT_EQ(one(*spd2, out, a, b, kUdp, 0x0102, 1), 0u);
  EXPECT_EQ(one(*spd2, out, a, b, kUdp, 0x0201, 1), kNoPolicy);
}

TEST_F(SpdTest, LowerPriorityValueWinsAndTiesGoToTheEarlierPolicy) {
  // All three match everything outbound to 10.1/16.
  Policy wide = policy(Direction::kOutbound, 300, Action::kDiscard);
  Policy narrow = policy(Direction::kOutbound, 100, Action::kProtect, 0x1001);
  narrow.match.remote = {prefix("10.1.0.0/16")};
  Policy tie = policy(Direction::kOutbound, 100, Action::kBypass);
  tie.match.remote = {prefix("10.1.2.0/24")};
  Policy big = policy(Direction::kOutbound, 0xffffffff, Action::kBypass);
  auto spd = build({wide, narrow, tie, big});
  ASSERT_TRUE(spd);
  const Direction out = Direction::kOutbound;
  EXPECT_EQ(one(*spd, out, ip("10.0.0.1"), ip("10.1.2.3"), kTcp, 1, 1), 1u);  // tie: earlier
  EXPECT_EQ(one(*spd, out, ip("10.0.0.1"), ip("10.1.9.3"), kTcp, 1, 1), 1u);
  EXPECT_EQ(one(*spd, out, ip("10.0.0.1"), ip("10.9.9.3"), kTcp, 1, 1), 0u);

  // Order in the list does not matter, only the values.
  auto reversed = build({big, tie, narrow, wide});
  ASSERT_TRUE(reversed);
  EXPECT_EQ(one(*reversed, out, ip("10.0.0.1"), ip("10.1.2.3"), kTcp, 1, 1), 1u);  // tie
  EXPECT_EQ(one(*reversed, out, ip("10.0.0.1"), ip("10.1.9.3"), kTcp, 1, 1), 2u);
  EXPECT_EQ(one(*reversed, out, ip("10.0.0.1"), ip("10.9.9.3"), kTcp, 1, 1), 3u);
}

TEST_F(SpdTest, Ipv6PrefixesAcrossWordBoundaries) {
  std::vector<Policy> ps;
  const char* remotes[] = {"2001:db8:1:2:3:4:5:6/127", "2001:db8:1:2::/64", "2001:db8:1::/48",
                           "2001:db8:1:2:8000::/65", "::/0"};
  for (uint32_t i = 0; i < 5; ++i) {
    Policy p = policy(Direction::kOutbound, i, Action::kProtect, 0x1000 + i);
    p.match.remote = {prefix(remotes[i])};
    p.match.local = {prefix("2001:db8:ffff::/33")};
    ps.push_back(p);
  }
  auto spd = build(ps);
  ASSERT_TRUE(spd);
  const IpAddress src = ip("2001:db8:ffff:1::1");
  const Direction out = Direction::kOutbound;
  EXPECT_EQ(one(*spd, out, src, ip("2001:db8:1:2:3:4:5:7"), kTcp), 0u);
  EXPECT_EQ(one(*spd, out, src, ip("2001:db8:1:2:3:4:5:8"), kTcp), 1u);
  EXPECT_EQ(one(*spd, out, src, ip("2001:db8:1:3::1"), kTcp), 2u);
  EXPECT_EQ(one(*spd, out, src, ip("2001:db8:2::1"), kTcp), 4u);
  // /33 on the local side: the bit after the first word.
  EXPECT_EQ(one(*spd, out, ip("2001:db8:7fff::1"), ip("2001:db8:2::1"), kTcp), kNoPolicy);
  EXPECT_EQ(one(*spd, out, ip("2001:db8:8000::1"), ip("2001:db8:2::1"), kTcp), 4u);
  // An IPv4 packet never matches IPv6-only policies.
  EXPECT_EQ(one(*spd, out, ip("10.0.0.1"), ip("10.0.0.2"), kTcp), kNoPolicy);
}

TEST_F(SpdTest, FamiliesAndMixedSelectors) {
  // Local in both families, remote unset: either family, with a local match.
  Policy mixed = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  mixed.match.local = {prefix("10.0.0.0/8"), prefix("2001:db8::/32")};
  // Remote only IPv6: never matches IPv4 packets.
  Policy v6only = policy(Direction::kOutbound, 2, Action::kBypass);
  v6only.match.remote = {prefix("2001:db8:aa::/48")};
  // No prefixes: both families.
  Policy any = policy(Direction::kOutbound, 3, Action::kDiscard);
  auto spd = build({mixed, v6only, any});
  ASSERT_TRUE(spd);
  const Direction out = Direction::kOutbound;
  EXPECT_EQ(one(*spd, out, ip("10.2.3.4"), ip("8.8.8.8"), kUdp, 1, 2), 0u);
  EXPECT_EQ(one(*spd, out, ip("2001:db8::5"), ip("2001:db9::1"), kUdp, 1, 2), 0u);
  EXPECT_EQ(one(*spd, out, ip("2001:db9::5"), ip("2001:db8:aa::1"), kUdp, 1, 2), 1u);
  EXPECT_EQ(one(*spd, out, ip("11.0.0.1"), ip("8.8.8.8"), kIcmp), 2u);
  EXPECT_EQ(one(*spd, out, ip("2001:db9::5"), ip("2001:db9::6"), kIcmp), 2u);
  // Rules: mixed 1 IPv4 + 1 IPv6, v6only 1 IPv6, any 1 + 1.
  EXPECT_EQ(spd->rule_count(), 5u);
}

TEST_F(SpdTest, CrossProductOfPrefixes) {
  Policy p = policy(Direction::kInbound, 1, Action::kProtect, 0x2001);
  p.match.local = {prefix("10.0.1.0/24"), prefix("10.0.2.0/24")};
  p.match.remote = {prefix("172.16.0.0/12"), prefix("192.168.7.7/32"), prefix("fd00::/8")};
  auto spd = build({p});
  ASSERT_TRUE(spd);
  EXPECT_EQ(spd->rule_count(), 4u);  // IPv4 2x2; IPv6: no local prefix of that family
  const Direction in = Direction::kInbound;
  EXPECT_EQ(one(*spd, in, ip("172.20.0.1"), ip("10.0.2.9"), kTcp, 5, 6), 0u);
  EXPECT_EQ(one(*spd, in, ip("192.168.7.7"), ip("10.0.1.9"), kTcp, 5, 6), 0u);
  EXPECT_EQ(one(*spd, in, ip("192.168.7.8"), ip("10.0.1.9"), kTcp, 5, 6), kNoPolicy);
  EXPECT_EQ(one(*spd, in, ip("fd00::1"), ip("fd00::2"), kTcp, 5, 6), kNoPolicy);
}

// Random policies and packets against the linear reference: both families,
// both directions, every field.
TEST_F(SpdTest, AgreesWithTheReferenceOnRandomPoliciesAndPackets) {
  std::mt19937 rng(7);
  auto rnd = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  auto random_addr = [&](bool v6) {
    std::array<uint8_t, 16> b{};
    // A small space, so that prefixes and packets meet.
    b[0] = v6 ? 0x20 : 10;
    for (size_t i = 1; i < (v6 ? 16u : 4u); ++i) b[i] = static_cast<uint8_t>(rnd(4));
    return v6 ? IpAddress::v6(b.data()) : IpAddress::v4(b.data());
  };
  auto random_prefix = [&](bool v6) {
    // Mostly long enough to miss: /16../32 (IPv4), /16../40 (IPv6), where
    // the random bytes start.
    IpPrefix p{random_addr(v6), static_cast<uint8_t>(16 + rnd(v6 ? 25 : 17))};
    if (rnd(20) == 0) p.length = static_cast<uint8_t>(rnd(v6 ? 129 : 33));  // any length
    // Clear the host bits.
    for (size_t bit = p.length; bit < p.address.size() * 8; ++bit)
      p.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return p;
  };
  auto random_range = [&]() -> PortRange {
    if (rnd(2)) return {};
    uint16_t a = static_cast<uint16_t>(rnd(8)), b = static_cast<uint16_t>(rnd(8));
    return {std::min(a, b), std::max(a, b)};
  };
  std::vector<Policy> ps;
  for (int i = 0; i < 120; ++i) {
    Policy p = policy(rnd(2) ? Direction::kInbound : Direction::kOutbound, rnd(50),
                      static_cast<Action>(rnd(3)), 0x1000 + i);
    // Lists of 1 or 2 prefixes of either family; 1 in 20 empty ("any").
    for (uint32_t n = rnd(20) == 0 ? 0 : 1 + rnd(2); n > 0; --n)
      p.match.local.push_back(random_prefix(rnd(2)));
    for (uint32_t n = rnd(20) == 0 ? 0 : 1 + rnd(2); n > 0; --n)
      p.match.remote.push_back(random_prefix(rnd(2)));
    p.match.protocol = rnd(2) ? 0 : static_cast<uint8_t>(rnd(2) ? kTcp : kUdp);
    // A policy for any address pair takes a port, or it would match almost
    // every packet and leave the test little to check.
    if (p.match.local.empty() && p.match.remote.empty()) p.match.protocol = kTcp;
    if (p.match.protocol != 0) {
      p.match.local_ports = random_range();
      p.match.remote_ports = random_range();
    }
    if (p.match.local.empty() && p.match.remote.empty()) p.match.local_ports = {3, 3};
    ps.push_back(p);
  }
  auto spd = build(ps);
  ASSERT_TRUE(spd);

  int matched = 0, checked = 0;
  for (int i = 0; i < 20000; ++i) {
    const bool v6 = rnd(2);
    const Direction d = rnd(2) ? Direction::kInbound : Direction::kOutbound;
    const IpAddress src = random_addr(v6), dst = random_addr(v6);
    const uint8_t proto = static_cast<uint8_t>(rnd(2) ? kTcp : kUdp);
    const uint16_t sport = static_cast<uint16_t>(rnd(9)), dport = static_cast<uint16_t>(rnd(9));
    const uint32_t want = reference(ps, d, src, dst, proto, sport, dport);
    const uint32_t got = one(*spd, d, src, dst, proto, sport, dport);
    ASSERT_EQ(got, want) << "packet " << i << ": " << src.to_string() << ":" << sport << " -> "
                         << dst.to_string() << ":" << dport << " proto " << int{proto} << " "
                         << to_string(d);
    matched += want != kNoPolicy;
    ++checked;
  }
  std::printf("  %d of %d packets matched a policy\n", matched, checked);
  EXPECT_GT(matched, checked / 10) << "the test should exercise matches";
  EXPECT_LT(matched, checked) << "and misses";
}

TEST_F(SpdTest, BurstsOfAnySize) {
  Policy p = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  p.match.remote = {prefix("10.1.0.0/16")};
  auto spd = build({p});
  ASSERT_TRUE(spd);
  std::vector<SpdKey4> keys;
  for (uint32_t i = 0; i < 100; ++i) {
    keys.push_back(
        make_key4(IpAddress::v4(0x0A000001u), IpAddress::v4(0x0A010000u + i * 700), kTcp, 1, 2));
  }
  std::vector<const SpdKey4*> ptrs;
  for (const SpdKey4& k : keys) ptrs.push_back(&k);
  std::vector<uint32_t> out(keys.size(), 7);
  spd->classify(Direction::kOutbound, ptrs, out);
  for (uint32_t i = 0; i < keys.size(); ++i) {
    // 10.1.0.0 + i*700 leaves 10.1/16 at i >= 94.
    EXPECT_EQ(out[i], i * 700 < 65536 ? 0u : kNoPolicy) << i;
  }
  spd->classify(Direction::kOutbound, ptrs.data(), out.data(), 0);  // nothing to do
}

TEST_F(SpdTest, RefusesBadOptionsAndTooManyRules) {
  Spd::Options o;
  o.name = "";
  EXPECT_FALSE(Spd::build({}, o));
  o.name = "waytoolongname";
  auto s = Spd::build({}, o);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("1 to 12 characters"), std::string::npos) << s.error();

  Policy p = policy(Direction::kOutbound, 1, Action::kBypass);
  for (int i = 0; i < 10; ++i) {
    p.match.local.push_back(IpPrefix{IpAddress::v4(0x0A000000u + (i << 8)), 24});
    p.match.remote.push_back(IpPrefix{IpAddress::v4(0x0B000000u + (i << 8)), 24});
  }
  Spd::Options small;
  small.max_rules = 99;
  auto t = Spd::build(std::vector<Policy>{p}, small);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(),
            "SPD: the policies need 100 ACL rules, more than max_rules (99): fewer prefixes per "
            "selector");
  small.max_rules = 100;
  EXPECT_TRUE(Spd::build(std::vector<Policy>{p}, small));

  std::vector<Policy> many(kMaxPolicies + 1, policy(Direction::kInbound, 0, Action::kBypass));
  auto u = Spd::build(many, {});
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error(), "SPD: 65537 policies, more than the maximum, 65536");
}

// 10,000 policies (each its own /24 pair and port range, both families):
// build, then check a sample against the reference.
TEST_F(SpdTest, TenThousandPoliciesBuildAndClassify) {
  constexpr uint32_t kN = 10000;
  std::vector<Policy> ps;
  ps.reserve(kN);
  for (uint32_t i = 0; i < kN; ++i) {
    Policy p = policy(i % 2 ? Direction::kInbound : Direction::kOutbound, kN - i, Action::kProtect,
                      0x10000 + i);
    if (i % 4 < 2) {
      p.match.local = {IpPrefix{IpAddress::v4(0x0A000000u + (i << 8)), 24}};
      p.match.remote = {IpPrefix{IpAddress::v4(0xAC100000u + ((i % 512) << 8)), 23}};
    } else {
      std::array<uint8_t, 16> l{
          0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      std::array<uint8_t, 16> r{0xfd, 0, 0, 0, static_cast<uint8_t>(i % 64)};
      p.match.local = {IpPrefix{IpAddress::v6(l.data()), 48}};
      p.match.remote = {IpPrefix{IpAddress::v6(r.data()), 40}};
    }
    p.match.protocol = i % 3 == 0 ? 0 : kTcp;
    if (p.match.protocol == kTcp) {
      p.match.remote_ports = {static_cast<uint16_t>(i % 1000),
                              static_cast<uint16_t>(i % 1000 + 500)};
    }
    ps.push_back(p);
  }
  const auto begin = std::chrono::steady_clock::now();
  auto spd = build(ps);
  const auto build_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - begin)
                            .count();
  ASSERT_TRUE(spd);
  std::printf("  10k policies: %u ACL rules built in %lld ms\n", spd->rule_count(),
              static_cast<long long>(build_ms));

  std::mt19937 rng(11);
  int matched = 0;
  for (int n = 0; n < 2000; ++n) {
    const uint32_t i = rng() % kN;
    const Policy& p = ps[i];
    const bool out = p.direction == Direction::kOutbound;
    IpAddress local = p.match.local[0].address, remote = p.match.remote[0].address;
    local.bytes[local.is_v4() ? 3 : 15] = static_cast<uint8_t>(rng());
    remote.bytes[remote.is_v4() ? 3 : 15] = static_cast<uint8_t>(rng());
    const uint16_t port = static_cast<uint16_t>(rng() % 2000);
    const IpAddress& src = out ? local : remote;
    const IpAddress& dst = out ? remote : local;
    const uint16_t sport = out ? 999 : port, dport = out ? port : 999;
    const uint32_t want = reference(ps, p.direction, src, dst, kTcp, sport, dport);
    ASSERT_EQ(one(*spd, p.direction, src, dst, kTcp, sport, dport), want) << n;
    matched += want != kNoPolicy;
  }
  EXPECT_GT(matched, 500);
}

TEST_F(SpdTest, PoliciesFromConfig) {
  v1::DataplaneConfig c;
  auto* p = c.add_policies();
  p->set_name("web");
  p->set_priority(7);
  p->set_direction(v1::DIRECTION_INBOUND);
  p->set_action(v1::POLICY_ACTION_PROTECT);
  p->set_sa_spi(0x2001);
  p->mutable_match()->add_local_prefixes("10.0.0.77/24");  // host bits are cleared
  p->mutable_match()->add_remote_prefixes("2001:db8::/32");
  p->mutable_match()->set_protocol(6);
  p->mutable_match()->mutable_local_ports()->set_min(443);
  p->mutable_match()->mutable_local_ports()->set_max(443);
  auto* q = c.add_policies();
  q->set_direction(v1::DIRECTION_OUTBOUND);
  q->set_action(v1::POLICY_ACTION_DISCARD);

  auto ps = policies_from_config(c);
  ASSERT_TRUE(ps) << ps.error();
  ASSERT_EQ(ps->size(), 2u);
  const Policy& a = (*ps)[0];
  EXPECT_EQ(a.name, "web");
  EXPECT_EQ(a.priority, 7u);
  EXPECT_EQ(a.direction, Direction::kInbound);
  EXPECT_EQ(a.action, Action::kProtect);
  EXPECT_EQ(a.sa_spi, 0x2001u);
  ASSERT_EQ(a.match.local.size(), 1u);
  EXPECT_EQ(a.match.local[0].to_string(), "10.0.0.0/24");
  EXPECT_EQ(a.match.remote[0].to_string(), "2001:db8::/32");
  EXPECT_EQ(a.match.protocol, 6);
  EXPECT_EQ(a.match.local_ports, (PortRange{443, 443}));
  EXPECT_TRUE(a.match.remote_ports.is_any());
  const Policy& b = (*ps)[1];
  EXPECT_EQ(b.direction, Direction::kOutbound);
  EXPECT_EQ(b.action, Action::kDiscard);
  EXPECT_TRUE(b.match.local.empty());
  EXPECT_TRUE(b.match.local_ports.is_any());

  q->mutable_match()->add_remote_prefixes("10.0.0.300/8");
  auto bad = policies_from_config(c);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().starts_with("policies[1].match.remote_prefixes[0]: ")) << bad.error();
  q->mutable_match()->clear_remote_prefixes();
  q->clear_direction();
  bad = policies_from_config(c);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "policies[1].direction: must be INBOUND or OUTBOUND");
}

// The shipped manual-ESP example compiles and does what its comments say.
TEST_F(SpdTest, ManualEspExampleCompiles) {
  auto c = config::load_validated_dataplane_config(std::string(TCPSEC_CONFIG_DIR) +
                                                   "/dataplane-manual-esp.textproto");
  ASSERT_TRUE(c) << c.error();
  auto ps = policies_from_config(*c);
  ASSERT_TRUE(ps) << ps.error();
  auto spd = build(*ps);
  ASSERT_TRUE(spd);
  const Direction out = Direction::kOutbound, in = Direction::kInbound;
  Verdict v = spd->verdict(one(*spd, out, ip("10.10.3.4"), ip("10.20.5.6"), kTcp, 40000, 22));
  EXPECT_EQ(v.action, Action::kProtect);
  EXPECT_EQ(v.sa_spi, 0x1000a001u);
  v = spd->verdict(one(*spd, in, ip("10.20.5.6"), ip("10.10.3.4"), kTcp, 22, 40000));
  EXPECT_EQ(v.action, Action::kProtect);
  EXPECT_EQ(v.sa_spi, 0x2000b001u);
  v = spd->verdict(one(*spd, out, ip("192.0.2.10"), ip("198.51.100.20"), kUdp, 500, 500));
  EXPECT_EQ(v.action, Action::kBypass);
  v = spd->verdict(one(*spd, in, ip("198.51.100.20"), ip("192.0.2.10"), kUdp, 500, 500));
  EXPECT_EQ(v.action, Action::kBypass);
  v = spd->verdict(one(*spd, out, ip("10.10.3.4"), ip("8.8.8.8"), kUdp, 5353, 53));
  EXPECT_EQ(v.action, Action::kDiscard);
  EXPECT_EQ(v.policy, kNoPolicy);
}

TEST(SelectorTest, Matches) {
  Selector s;
  s.local = {prefix("10.0.0.0/24"), prefix("2001:db8::/64")};
  s.remote = {prefix("10.1.0.0/16")};
  s.protocol = kTcp;
  s.remote_ports = {443, 443};
  EXPECT_TRUE(s.matches(Direction::kOutbound, ip("10.0.0.1"), ip("10.1.0.1"), kTcp, 9, 443));
  EXPECT_TRUE(s.matches(Direction::kInbound, ip("10.1.0.1"), ip("10.0.0.1"), kTcp, 443, 9));
  EXPECT_FALSE(s.matches(Direction::kInbound, ip("10.0.0.1"), ip("10.1.0.1"), kTcp, 9, 443));
  EXPECT_FALSE(s.matches(Direction::kOutbound, ip("10.0.0.1"), ip("10.1.0.1"), kUdp, 9, 443));
  EXPECT_FALSE(s.matches(Direction::kOutbound, ip("10.0.0.1"), ip("10.1.0.1"), kTcp, 9, 80));
  EXPECT_FALSE(s.matches(Direction::kOutbound, ip("2001:db8::1"), ip("2001:db9::1"), kTcp, 9, 443));
  EXPECT_TRUE(Selector{}.matches(Direction::kInbound, ip("::1"), ip("::2"), 58, 0, 0));
}

// ---------------------------------------------------------------------------
// SpdPublisher

class SpdPublisherTest : public SpdTest {
 protected:
  static std::unique_ptr<SpdPublisher> make(SpdPublisher::Options o = {}) {
    auto p = SpdPublisher::create(o);
    EXPECT_TRUE(p) << (p ? "" : p.error());
    return p ? std::move(*p) : nullptr;
  }
};

TEST_F(SpdPublisherTest, StartsEmptyAndSwapsOnUpdate) {
  auto pub = make();
  ASSERT_TRUE(pub);
  const Spd* first = pub->current();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->size(), 0u);
  EXPECT_EQ(pub->generation(), 0u);

  Policy p = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  ASSERT_TRUE(pub->update(std::vector<Policy>{p}));
  EXPECT_EQ(pub->generation(), 1u);
  EXPECT_EQ(pub->current()->size(), 1u);
  EXPECT_EQ(one(*pub->current(), Direction::kOutbound, ip("1.2.3.4"), ip("5.6.7.8"), kTcp), 0u);
  // No reader is registered: the old one is freed at once.
  EXPECT_EQ(pub->retired(), 0u);

  // A failed build keeps the current Spd.
  Policy huge = p;
  for (int i = 0; i < 2000; ++i) huge.match.local.push_back(IpPrefix{IpAddress::v4(i << 8), 24});
  for (int i = 0; i < 600; ++i) huge.match.remote.push_back(IpPrefix{IpAddress::v4(i << 8), 24});
  Status s = pub->update(std::vector<Policy>{huge});
  EXPECT_FALSE(s);
  EXPECT_EQ(pub->generation(), 1u);
  EXPECT_EQ(pub->current()->size(), 1u);
}

// Each published Spd has its own epoch; the flow cache answers what
// classify() answered under the same epoch only, and a new policy set makes
// every entry miss.
TEST_F(SpdPublisherTest, FlowCacheHitsOnlyUnderTheSameSpd) {
  auto pub = make();
  ASSERT_TRUE(pub);
  const uint64_t empty_epoch = pub->current()->epoch();
  EXPECT_NE(empty_epoch, 0u);  // 0 marks an empty cache entry
  Policy protect = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  protect.match.local.push_back(prefix("10.0.0.0/8"));
  ASSERT_TRUE(pub->update(std::vector<Policy>{protect}));
  const Spd& spd = *pub->current();
  EXPECT_NE(spd.epoch(), empty_epoch);

  SpdFlowCache cache;
  std::vector<SpdKey4> keys;
  for (uint32_t i = 0; i < 3 * SpdFlowCache::kEntries; ++i) {
    keys.push_back(make_key4(IpAddress::v4(0x0a000000 + i), ip("192.0.2.1"), kUdp, 1000, 53));
  }
  keys.push_back(make_key4(ip("11.0.0.1"), ip("192.0.2.1"), kUdp, 1000, 53));  // no policy
  keys.push_back(SpdKey4{});  // all zero: must not hit an empty entry
  uint32_t r = 0;
  for (const SpdKey4& k : keys) EXPECT_FALSE(cache.find(spd.epoch(), k, r));
  size_t hits = 0;
  for (const SpdKey4& k : keys) {
    const SpdKey4* p = &k;
    uint32_t want = 12345;
    spd.classify(Direction::kOutbound, &p, &want, 1);
    cache.insert(spd.epoch(), k, want);
    ASSERT_TRUE(cache.find(spd.epoch(), k, r));  // just inserted
    EXPECT_EQ(r, want);
  }
  // More keys than entries: some were replaced, every hit is still right.
  for (const SpdKey4& k : keys) {
    const SpdKey4* p = &k;
    uint32_t want = 12345;
    spd.classify(Direction::kOutbound, &p, &want, 1);
    if (cache.find(spd.epoch(), k, r)) {
      ++hits;
      EXPECT_EQ(r, want);
    }
  }
  EXPECT_GT(hits, SpdFlowCache::kEntries / 2);
  EXPECT_LT(hits, keys.size());

  const uint64_t first = spd.epoch();  // `spd` is freed by the update (no readers)
  ASSERT_TRUE(pub->update(std::vector<Policy>{policy(Direction::kOutbound, 1, Action::kBypass)}));
  const uint64_t next = pub->current()->epoch();
  EXPECT_NE(next, first);
  for (const SpdKey4& k : keys) EXPECT_FALSE(cache.find(next, k, r));
}

// The IPv6 cache: hits answer what classify() answers, under the same Spd only.
TEST_F(SpdPublisherTest, Ipv6FlowCacheHitsOnlyUnderTheSameSpd) {
  auto pub = make();
  ASSERT_TRUE(pub);
  Policy protect = policy(Direction::kOutbound, 1, Action::kProtect, 0x1001);
  protect.match.local.push_back(prefix("2001:db8::/32"));
  ASSERT_TRUE(pub->update(std::vector<Policy>{protect}));
  const Spd& spd = *pub->current();
  SpdFlowCache6 cache;
  std::vector<SpdKey6> keys;
  for (uint32_t i = 0; i < 2 * SpdFlowCache6::kEntries; ++i) {
    IpAddress src = ip(i % 2 ? "2001:db8::1" : "2001:db9::1");  // every other: no policy
    src.bytes[12] = static_cast<uint8_t>(i >> 8);
    src.bytes[13] = static_cast<uint8_t>(i);
    keys.push_back(make_key6(src, ip("2001:db8:ffff::1"), kTcp, 1000, 443));
  }
  keys.push_back(SpdKey6{});
  uint32_t r = 0, hits = 0;
  for (const SpdKey6& k : keys) EXPECT_FALSE(cache.find(spd.epoch(), k, r));
  auto classify = [&](const SpdKey6& k) {
    const SpdKey6* p = &k;
    uint32_t want = 12345;
    spd.classify(Direction::kOutbound, &p, &want, 1);
    return want;
  };
  for (const SpdKey6& k : keys) cache.insert(spd.epoch(), k, classify(k));
  for (const SpdKey6& k : keys) {
    if (!cache.find(spd.epoch(), k, r)) continue;
    ++hits;
    EXPECT_EQ(r, classify(k));
  }
  EXPECT_GT(hits, SpdFlowCache6::kEntries / 2);
  const uint64_t first = spd.epoch();  // `spd` is freed by the update (no readers)
  ASSERT_TRUE(pub->update(std::vector<Policy>{policy(Direction::kOutbound, 1, Action::kBypass)}));
  EXPECT_NE(pub->current()->epoch(), first);
  for (const SpdKey6& k : keys) EXPECT_FALSE(cache.find(pub->current()->epoch(), k, r));
}

TEST_F(SpdPublisherTest, OldSpdIsFreedOnlyAfterEveryReaderIsQuiescent) {
  auto pub = make();
  ASSERT_TRUE(pub);
  ASSERT_TRUE(pub->register_reader(0));  // this thread plays a reader
  ASSERT_TRUE(pub->register_reader(3));  // and another one
  const Spd* held = pub->current();
  ASSERT_TRUE(pub->update(std::vector<Policy>{policy(Direction::kInbound, 1, Action::kBypass)}));
  EXPECT_NE(pub->current(), held);
  EXPECT_EQ(pub->retired(), 1u);
  pub->reclaim();
  EXPECT_EQ(pub->retired(), 1u);
  pub->quiescent(0);
  pub->reclaim();
  EXPECT_EQ(pub->retired(), 1u) << "reader 3 may still hold it";
  pub->quiescent(3);
  pub->reclaim();
  EXPECT_EQ(pub->retired(), 0u);

  // Two updates in a row: both retire until the readers move on.
  ASSERT_TRUE(pub->update(std::vector<Policy>{}));
  ASSERT_TRUE(pub->update(std::vector<Policy>{}));
  EXPECT_EQ(pub->retired(), 2u);
  pub->unregister_reader(0);
  pub->unregister_reader(3);
  pub->synchronize();
  EXPECT_EQ(pub->retired(), 0u);
  EXPECT_EQ(pub->generation(), 3u);

  EXPECT_FALSE(pub->register_reader(16));  // max_readers 16
  EXPECT_FALSE(SpdPublisher::create({Spd::Options{}, 0, -1}));
}

TEST_F(SpdPublisherTest, PublishesAPrebuiltSpd) {
  auto pub = make();
  ASSERT_TRUE(pub);
  auto spd = build({policy(Direction::kOutbound, 1, Action::kBypass)});
  ASSERT_TRUE(spd);
  const Spd* raw = spd.get();
  pub->publish(std::move(spd));
  EXPECT_EQ(pub->current(), raw);
  pub->publish(nullptr);  // ignored
  EXPECT_EQ(pub->current(), raw);
}

// A reader thread classifies bursts continuously while this thread swaps two
// policy sets back and forth: every burst is classified by exactly one of
// them (never a mix, never freed memory), and old sets are freed as the
// reader moves on.
TEST_F(SpdPublisherTest, UpdateWhileAReaderClassifies) {
  constexpr uint32_t kPolicies = 64;
  // Set A maps key j to policy j with SA 0xA000 + j; set B maps it to
  // policy kPolicies - 1 - j with SA 0xB000 + j (same selectors, list
  // reversed), so results tell the sets apart.
  std::vector<Policy> a, b;
  for (uint32_t j = 0; j < kPolicies; ++j) {
    Policy p = policy(Direction::kOutbound, j, Action::kProtect, 0xA000 + j);
    p.match.remote = {IpPrefix{IpAddress::v4(0x0A000000u + (j << 8)), 24}};
    p.match.protocol = kUdp;
    a.push_back(p);
  }
  for (uint32_t j = kPolicies; j-- > 0;) {
    Policy p = a[j];
    p.sa_spi = 0xB000 + j;
    b.push_back(p);
  }
  std::vector<SpdKey4> keys;
  for (uint32_t j = 0; j < kPolicies; ++j) {
    keys.push_back(make_key4(IpAddress::v4(0xC0000201u), IpAddress::v4(0x0A000000u + (j << 8) + 9),
                             kUdp, 4000, 53));
  }

  auto pub = make();
  ASSERT_TRUE(pub);
  ASSERT_TRUE(pub->update(a));

  std::atomic<bool> ready{false}, stop{false};
  std::atomic<uint64_t> bursts{0}, bad{0}, sets_seen{0};
  std::string first_bad;
  std::thread reader([&] {
    tcpsec::testing::unpin_this_thread();
    constexpr unsigned kThread = 2;
    if (!pub->register_reader(kThread)) {
      bad = 1;
      ready = true;
      return;
    }
    ready = true;
    uint64_t n = 0, b_count = 0, seen = 0;
    const Spd* last = nullptr;
    std::array<const SpdKey4*, 32> ptrs;
    std::array<uint32_t, 32> out;
    uint32_t offset = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const Spd* spd = pub->current();
      if (spd != last) ++seen;
      last = spd;
      for (uint32_t i = 0; i < 32; ++i) ptrs[i] = &keys[(offset + i) % kPolicies];
      spd->classify(Direction::kOutbound, ptrs, out);
      // All 32 from one set: decide which by the first.
      const uint32_t base = (spd->verdict(out[0]).sa_spi & 0xF000);
      for (uint32_t i = 0; i < 32; ++i) {
        const uint32_t j = (offset + i) % kPolicies;
        const Verdict v = spd->verdict(out[i]);
        const uint32_t want_policy = base == 0xA000 ? j : kPolicies - 1 - j;
        if ((base != 0xA000 && base != 0xB000) || v.sa_spi != base + j || v.policy != want_policy ||
            v.action != Action::kProtect) {
          if (b_count++ == 0) {
            first_bad = "burst " + std::to_string(n) + " key " + std::to_string(j) + ": SA " +
                        std::to_string(v.sa_spi) + " policy " + std::to_string(v.policy);
          }
        }
      }
      offset += 7;
      ++n;
      pub->quiescent(kThread);
    }
    pub->unregister_reader(kThread);
    bursts = n;
    bad = b_count;
    sets_seen = seen;
  });
  while (!ready) std::this_thread::yield();

  uint32_t updates = 0, errors = 0;
  size_t most_retired = 0;
  const auto begin = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - begin < std::chrono::seconds(1) || updates < 200) {
    if (!pub->update(updates % 2 ? a : b)) ++errors;
    ++updates;
    most_retired = std::max(most_retired, pub->retired());
    if (std::chrono::steady_clock::now() - begin > std::chrono::seconds(20)) break;
  }
  stop = true;
  reader.join();
  pub->synchronize();
  std::printf("  %u updates (at most %zu retired at once); reader: %lu bursts, %lu sets seen\n",
              updates, most_retired, static_cast<unsigned long>(bursts.load()),
              static_cast<unsigned long>(sets_seen.load()));
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(bad.load(), 0u) << first_bad;
  EXPECT_GT(bursts.load(), 100u);
  EXPECT_GT(sets_seen.load(), 2u) << "the reader should see several sets";
  EXPECT_LT(most_retired, updates) << "old sets must be freed while the reader runs";
  EXPECT_EQ(pub->retired(), 0u);
}

}  // namespace
}  // namespace tcpsec::spd

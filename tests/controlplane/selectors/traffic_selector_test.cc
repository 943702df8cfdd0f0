// Traffic selectors and narrowing (controlplane/selectors).
#include <gtest/gtest.h>

#include "controlplane/selectors/narrowing.h"
#include "controlplane/selectors/traffic_selector.h"

namespace tcpsec::selectors {
namespace {

ike::Ts ts(const std::vector<std::string>& prefixes, uint8_t proto = 0, PortRange ports = {}) {
  auto t = from_prefixes(prefixes, proto, ports);
  EXPECT_TRUE(t) << t.error();
  return t ? *t : ike::Ts{};
}

ike::TrafficSelector range(const std::string& first, const std::string& last) {
  ike::TrafficSelector s;
  auto a = *Address::parse(first);
  auto b = *Address::parse(last);
  s.type = a.v6 ? ike::TsType::kIpv6AddrRange : ike::TsType::kIpv4AddrRange;
  s.start_address.assign(a.span().begin(), a.span().end());
  s.end_address.assign(b.span().begin(), b.span().end());
  return s;
}

std::vector<std::string> strings(const std::vector<Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.to_string());
  return out;
}

TEST(FromPrefix, V4V6AndHosts) {
  auto t = from_prefix("10.1.0.0/24", 6, {443, 443});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->type, ike::TsType::kIpv4AddrRange);
  EXPECT_EQ(t->start_address, (ike::Bytes{10, 1, 0, 0}));
  EXPECT_EQ(t->end_address, (ike::Bytes{10, 1, 0, 255}));
  EXPECT_EQ(t->ip_protocol, 6);
  EXPECT_EQ(to_string(*t), "10.1.0.0/24[tcp/443]");
  auto h = from_prefix("192.0.2.7");
  ASSERT_TRUE(h);
  EXPECT_EQ(to_string(*h), "192.0.2.7/32");
  auto v6 = from_prefix("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->type, ike::TsType::kIpv6AddrRange);
  EXPECT_EQ(v6->end_address.size(), 16u);
  EXPECT_EQ(to_string(*v6), "2001:db8::/32");
  auto any = from_prefix("::/0");
  ASSERT_TRUE(any);
  EXPECT_EQ(to_string(*any), "::/0");
}

TEST(FromPrefix, Errors) {
  EXPECT_EQ(from_prefix("10.0.0.1/8").error(),
            "'10.0.0.1/8' has bits set after /8 (write 10.0.0.0/8)");
  EXPECT_EQ(from_prefix("10.0.0.0/33").error(), "'10.0.0.0/33' has a bad prefix length (0-32)");
  EXPECT_EQ(from_prefix("10.0.0.0/").error(), "'10.0.0.0/' has a bad prefix length (0-32)");
  EXPECT_EQ(from_prefix("gw.example").error(), "'gw.example' is not an IPv4 or IPv6 address");
  EXPECT_EQ(from_prefixes({"10.0.0.0/8", "x"}).error(), "[1]: 'x' is not an IPv4 or IPv6 address");
}

TEST(RangeToPrefixes, MinimalCidrSets) {
  EXPECT_EQ(strings(range_to_prefixes(*Address::parse("10.0.0.1"), *Address::parse("10.0.0.6"))),
            (std::vector<std::string>{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}));
  EXPECT_EQ(
      strings(range_to_prefixes(*Address::parse("0.0.0.0"), *Address::parse("255.255.255.255"))),
      (std::vector<std::string>{"0.0.0.0/0"}));
  EXPECT_EQ(strings(range_to_prefixes(*Address::parse("::"),
                                      *Address::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))),
            (std::vector<std::string>{"::/0"}));
  EXPECT_EQ(
      strings(range_to_prefixes(*Address::parse("2001:db8::1"), *Address::parse("2001:db8::4"))),
      (std::vector<std::string>{"2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/128"}));
  EXPECT_EQ(strings(range_to_prefixes(*Address::parse("255.255.255.255"),
                                      *Address::parse("255.255.255.255"))),
            (std::vector<std::string>{"255.255.255.255/32"}));
  EXPECT_TRUE(range_to_prefixes(*Address::parse("10.0.0.2"), *Address::parse("10.0.0.1")).empty());
  EXPECT_TRUE(range_to_prefixes(*Address::parse("10.0.0.2"), *Address::parse("::1")).empty());
  EXPECT_EQ(to_string(range("10.0.0.1", "10.0.0.6")), "10.0.0.1-10.0.0.6");
}

TEST(RangeToPrefixes, BadSelectors) {
  auto s = range("10.0.0.9", "10.0.0.1");
  EXPECT_EQ(range_to_prefixes(s).status().message(),
            "traffic selector start address after end address");
  s = range("10.0.0.1", "10.0.0.9");
  s.end_address.resize(3);
  EXPECT_FALSE(range_to_prefixes(s));
  s.type = static_cast<ike::TsType>(9);
  EXPECT_EQ(range_to_prefixes(s).status().message(), "unsupported traffic selector type TS type 9");
}

TEST(Narrow, SupersetOfferedIsNarrowed) {
  // RFC 7296 2.9: the initiator proposes more than we allow.
  auto n = narrow(ts({"10.0.0.0/8"}), ts({"0.0.0.0/0"}), ts({"10.1.0.0/24"}), ts({"10.2.0.0/16"}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsi), "10.1.0.0/24");
  EXPECT_EQ(to_string(n->tsr), "10.2.0.0/16");
}

TEST(Narrow, SubsetOfferedIsKept) {
  auto n =
      narrow(ts({"10.1.0.0/25"}), ts({"10.2.3.0/24"}), ts({"10.1.0.0/24"}), ts({"10.2.0.0/16"}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsi), "10.1.0.0/25");
  EXPECT_EQ(to_string(n->tsr), "10.2.3.0/24");
}

TEST(Narrow, DisjointIsTsUnacceptable) {
  auto n =
      narrow(ts({"10.9.0.0/24"}), ts({"10.2.0.0/24"}), ts({"10.1.0.0/24"}), ts({"10.2.0.0/16"}));
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(),
            "TS_UNACCEPTABLE: offered TSi 10.9.0.0/24, TSr 10.2.0.0/24; configured remote "
            "10.1.0.0/24, local 10.2.0.0/16");
  // Families do not mix.
  EXPECT_FALSE(
      narrow(ts({"2001:db8::/32"}), ts({"10.2.0.0/24"}), ts({"10.1.0.0/24"}), ts({"10.2.0.0/16"})));
}

TEST(Narrow, ProtocolAndPorts) {
  auto n = narrow(ts({"10.1.0.0/24"}), ts({"10.2.0.0/24"}, 6, {1000, 2000}), ts({"10.1.0.0/24"}),
                  ts({"10.2.0.0/16"}, 6, {1500, 3000}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsr), "10.2.0.0/24[tcp/1500-2000]");
  EXPECT_FALSE(narrow(ts({"10.1.0.0/24"}), ts({"10.2.0.0/24"}, 17), ts({"10.1.0.0/24"}),
                      ts({"10.2.0.0/16"}, 6)));
}

TEST(Narrow, FirstSelectorIsThePacket) {
  // The initiator wants 10.1/16 <-> 10.2/16, triggered by 10.1.5.5 -> 10.2.7.7;
  // we allow two disjoint parts on each side: the one with the packet stays.
  ike::Ts tsi = ts({"10.1.5.5", "10.1.0.0/16"});
  ike::Ts tsr = ts({"10.2.7.7", "10.2.0.0/16"});
  auto n = narrow(tsi, tsr, ts({"10.1.0.0/24", "10.1.5.0/24"}), ts({"10.2.0.0/24", "10.2.7.0/24"}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsi), "10.1.5.0/24");
  EXPECT_EQ(to_string(n->tsr), "10.2.7.0/24");
  // A packet outside our configuration: narrowing proceeds on the rest.
  ike::Ts tsi2 = ts({"10.1.9.9", "10.1.0.0/16"});
  n = narrow(tsi2, tsr, ts({"10.1.0.0/24", "10.1.5.0/24"}), ts({"10.2.0.0/24", "10.2.7.0/24"}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsi), "10.1.0.0/24 10.1.5.0/24");
}

TEST(Narrow, V6AndContainedDuplicatesDropped) {
  auto n = narrow(ts({"2001:db8:1::/48", "2001:db8:1:1::/64"}), ts({"::/0"}), ts({"2001:db8::/32"}),
                  ts({"2001:db8:2::/48"}));
  ASSERT_TRUE(n) << n.error();
  EXPECT_EQ(to_string(n->tsi), "2001:db8:1::/48");
  EXPECT_EQ(to_string(n->tsr), "2001:db8:2::/48");
}

TEST(CheckNarrowed, SubsetOnly) {
  ike::Ts tsi = ts({"10.1.0.0/16"}), tsr = ts({"10.2.0.0/16"});
  EXPECT_TRUE(check_narrowed(tsi, tsr, ts({"10.1.0.0/24"}), ts({"10.2.0.0/16"})));
  auto bad = check_narrowed(tsi, tsr, ts({"10.1.0.0/24"}), ts({"10.0.0.0/8"}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.message(),
            "TSr 10.0.0.0/8 in the reply is not within what we proposed, 10.2.0.0/16");
  EXPECT_FALSE(check_narrowed(tsi, tsr, ike::Ts{}, tsr));
  EXPECT_FALSE(check_narrowed(ts({"10.1.0.0/16"}, 6), tsr, ts({"10.1.0.0/16"}), tsr));
}

TEST(ToDataplane, PrefixesAndPorts) {
  ike::Ts local;
  local.selectors.push_back(range("10.0.0.1", "10.0.0.6"));
  auto d = to_dataplane(local, ts({"10.2.0.0/16"}, 17, {500, 500}));
  ASSERT_TRUE(d) << d.error();
  ASSERT_EQ(d->size(), 1u);
  const v1::TrafficSelector& s = d->front();
  EXPECT_EQ(s.local_prefixes_size(), 4);
  EXPECT_EQ(s.local_prefixes(1), "10.0.0.2/31");
  EXPECT_EQ(s.remote_prefixes(0), "10.2.0.0/16");
  EXPECT_EQ(s.protocol(), 17u);
  EXPECT_FALSE(s.has_local_ports());
  EXPECT_EQ(s.remote_ports().min(), 500u);
  EXPECT_EQ(s.remote_ports().max(), 500u);

  // v4 and v6 each become a selector; no mixing.
  auto both =
      to_dataplane(ts({"10.1.0.0/24", "2001:db8:1::/48"}), ts({"10.2.0.0/24", "2001:db8:2::/48"}));
  ASSERT_TRUE(both) << both.error();
  EXPECT_EQ(both->size(), 2u);
  EXPECT_FALSE(to_dataplane(ts({"10.1.0.0/24"}), ts({"2001:db8:2::/48"})));
  auto icmp = to_dataplane(ts({"10.1.0.0/24"}, 1, {8, 8}), ts({"10.2.0.0/24"}));
  ASSERT_FALSE(icmp);
  EXPECT_EQ(icmp.error(),
            "ports with protocol 1: the dataplane takes ports only for TCP, UDP and SCTP");
}

}  // namespace
}  // namespace tcpsec::selectors

// Identities and address pools (controlplane/selectors).
#include <gtest/gtest.h>

#include "controlplane/selectors/address_pool.h"
#include "controlplane/selectors/identity.h"

namespace tcpsec::selectors {
namespace {

ike::Id id(const std::string& text) {
  auto i = parse_identity(text);
  EXPECT_TRUE(i) << text << ": " << i.error();
  return i ? *i : ike::Id{};
}

TEST(Identity, ParseAndPrint) {
  struct Case {
    const char* text;
    ike::IdType type;
    const char* printed;
  } cases[] = {
      {"fqdn:gw.example.com", ike::IdType::kFqdn, "fqdn:gw.example.com"},
      {"gw.example.com", ike::IdType::kFqdn, "fqdn:gw.example.com"},
      {"email:a@example.com", ike::IdType::kRfc822Addr, "email:a@example.com"},
      {"a@example.com", ike::IdType::kRfc822Addr, "email:a@example.com"},
      {"ipv4:1.2.3.4", ike::IdType::kIpv4Addr, "ipv4:1.2.3.4"},
      {"1.2.3.4", ike::IdType::kIpv4Addr, "ipv4:1.2.3.4"},
      {"ipv6:2001:db8::1", ike::IdType::kIpv6Addr, "ipv6:2001:db8::1"},
      {"2001:db8::1", ike::IdType::kIpv6Addr, "ipv6:2001:db8::1"},
      {"dn:C=CH, O=tcpsec, CN=gw", ike::IdType::kDerAsn1Dn, "dn:C=CH, O=tcpsec, CN=gw"},
  };
  for (const auto& c : cases) {
    ike::Id i = id(c.text);
    EXPECT_EQ(i.type, c.type) << c.text;
    EXPECT_EQ(to_string(i), c.printed) << c.text;
  }
  EXPECT_EQ(id("ipv4:1.2.3.4").data, (ike::Bytes{1, 2, 3, 4}));
  EXPECT_EQ(id("fqdn:a.b").data, (ike::Bytes{'a', '.', 'b'}));
  // DER: SEQUENCE of SETs; starts with 0x30.
  EXPECT_EQ(id("dn:CN=gw").data.front(), 0x30);
}

TEST(Identity, Errors) {
  EXPECT_EQ(parse_identity("").error(), "empty identity");
  EXPECT_EQ(parse_identity("ipv4:2001:db8::1").error(),
            "'ipv4:2001:db8::1': '2001:db8::1' is not an IPv4 address");
  EXPECT_EQ(parse_identity("ipv6:1.2.3.4").error(),
            "'ipv6:1.2.3.4': '1.2.3.4' is not an IPv6 address");
  EXPECT_EQ(parse_identity("fqdn:bad name").error(),
            "'fqdn:bad name': 'bad name' is not a domain name");
  EXPECT_EQ(parse_identity("email:nobody").error(),
            "'email:nobody': 'nobody' is not an email address");
  EXPECT_EQ(parse_identity("keyid:abc").error(),
            "'keyid:abc' is not an identity (fqdn:, email:, ipv4:, ipv6:, dn:, or a bare address "
            "or domain name)");
  EXPECT_EQ(parse_identity("dn:XX=1").error(),
            "'dn:XX=1': unknown attribute type 'XX' or bad value");
  EXPECT_EQ(parse_identity("dn:CN=a+OU=b").error(),
            "'dn:CN=a+OU=b': escapes, quotes and multi-valued RDNs ('+') are not supported");
  EXPECT_EQ(parse_identity("dn:CN").error(), "'dn:CN': 'CN' is not TYPE=value");
  EXPECT_FALSE(parse_identity(std::string(600, 'a')));
  EXPECT_FALSE(parse_identity(std::string("a\0b", 3)));
}

TEST(Identity, Matching) {
  EXPECT_TRUE(id_matches(id("fqdn:GW.example.com"), id("gw.example.COM")));
  EXPECT_TRUE(id_matches(id("fqdn:gw.example.com."), id("gw.example.com")));
  EXPECT_FALSE(id_matches(id("fqdn:gw.example.com"), id("gw2.example.com")));
  EXPECT_TRUE(id_matches(id("*.example.com"), id("a.b.example.com")));
  EXPECT_FALSE(id_matches(id("*.example.com"), id("example.com")));
  EXPECT_TRUE(id_matches(id("a@EXAMPLE.com"), id("a@example.com")));
  EXPECT_FALSE(id_matches(id("A@example.com"), id("a@example.com")));
  EXPECT_TRUE(id_matches(id("email:*@example.com"), id("b@example.com")));
  EXPECT_TRUE(id_matches(id("1.2.3.4"), id("ipv4:1.2.3.4")));
  EXPECT_FALSE(id_matches(id("1.2.3.4"), id("fqdn:1.2.3.4.example")));
  EXPECT_TRUE(id_matches(id("dn:C=CH,O=tcpsec,CN=gw"), id("dn:C=CH, O=tcpsec, CN=gw")));
  EXPECT_FALSE(id_matches(id("dn:C=CH, O=tcpsec, CN=gw"), id("dn:C=CH, O=tcpsec, CN=other")));
  // Garbage DER from a peer never matches and prints as hex.
  ike::Id junk{ike::IdType::kDerAsn1Dn, {0x30, 0x05, 0x01}};
  EXPECT_FALSE(id_matches(id("dn:CN=gw"), junk));
  EXPECT_EQ(to_string(junk), "dn:300501");
  EXPECT_EQ(to_string(ike::Id{ike::IdType::kKeyId, {0xab}}), "ID_KEY_ID:ab");
  EXPECT_EQ(to_string(id_of_address("192.0.2.1")), "ipv4:192.0.2.1");
}

TEST(AddressPool, AllocateReleaseAndSticky) {
  auto pool = AddressPool::create("10.3.0.0/29");
  ASSERT_TRUE(pool) << pool.error();
  EXPECT_EQ(pool->capacity(), 6u);  // .1 - .6
  auto a = pool->allocate("fqdn:alice");
  auto b = pool->allocate("fqdn:bob");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->to_string(), "10.3.0.1");
  EXPECT_EQ(b->to_string(), "10.3.0.2");
  EXPECT_EQ(pool->allocate("fqdn:alice")->to_string(), "10.3.0.1");
  EXPECT_TRUE(pool->release("fqdn:alice"));
  EXPECT_FALSE(pool->release("fqdn:alice"));
  EXPECT_EQ(pool->allocate("fqdn:carol")->to_string(), "10.3.0.3");
  EXPECT_EQ(pool->allocate("fqdn:alice")->to_string(), "10.3.0.1");  // handed back
  EXPECT_EQ(pool->leased(), 3u);
}

TEST(AddressPool, Exhaustion) {
  auto pool = AddressPool::create("10.3.0.0/30");
  ASSERT_TRUE(pool);
  EXPECT_TRUE(pool->allocate("a"));
  EXPECT_TRUE(pool->allocate("b"));
  auto c = pool->allocate("c");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), "address pool 10.3.0.0/30 is exhausted (2 addresses leased)");
  // A released address that someone else needs is given to them.
  pool->release("a");
  EXPECT_EQ(pool->allocate("c")->to_string(), "10.3.0.1");
  EXPECT_FALSE(pool->allocate("a"));
}

TEST(AddressPool, V6AndErrors) {
  auto pool = AddressPool::create("2001:db8:5::/64");
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->allocate("x")->to_string(), "2001:db8:5::1");
  EXPECT_TRUE(AddressPool::create("10.0.0.1/32"));
  EXPECT_EQ(AddressPool::create("10.0.0.0/33").error(),
            "address pool: '10.0.0.0/33' has a bad prefix length (0-32)");
  auto host = AddressPool::create("10.0.0.7/32");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->allocate("x")->to_string(), "10.0.0.7");
}

}  // namespace
}  // namespace tcpsec::selectors

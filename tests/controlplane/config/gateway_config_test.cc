// tcpsec-ike's configuration (controlplane/config): parsing, one negative
// test per validation rule, defaults, PSK lookup, the example files.
#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <functional>

#include "controlplane/config/gateway_config.h"
#include "controlplane/config/secrets.h"
#include "controlplane/selectors/identity.h"
#include "tests/controlplane/certs/test_pki.h"

namespace tcpsec::ikeconfig {
namespace {

constexpr const char* kBase = R"(
dataplane_socket: "/run/tcpsec/dataplane.sock"
connections {
  name: "site"
  local_address: "192.0.2.1"
  remote_address: "198.51.100.1"
  remote_id: "fqdn:peer.example"
  local_ts: "10.1.0.0/24"
  remote_ts: "10.2.0.0/24"
}
connections {
  name: "ra"
  local_address: "192.0.2.1"
  remote_address: "%any"
  local_ts: "10.1.0.0/16"
  address_pool: "10.3.0.0/24"
}
secrets { ids: "fqdn:peer.example" secret: "0123456789abcdef" }
)";

v1::GatewayConfig base() {
  auto c = parse_gateway_config(kBase, ConfigFormat::kText, "base");
  EXPECT_TRUE(c) << c.error();
  return *c;
}

std::string error_after(const std::function<void(v1::GatewayConfig&)>& edit) {
  v1::GatewayConfig c = base();
  edit(c);
  Status s = validate_gateway_config(c);
  return s ? "(valid)" : s.message();
}

TEST(Parse, TextJsonAndErrors) {
  EXPECT_TRUE(validate_gateway_config(base()));
  auto json =
      parse_gateway_config(R"({"dataplaneSocket": "/x.sock", "connections": [{"name": "a"}]})",
                           ConfigFormat::kJson, "j");
  ASSERT_TRUE(json) << json.error();
  EXPECT_EQ(json->connections(0).name(), "a");
  auto bad = parse_gateway_config("connections { nme: \"a\" }", ConfigFormat::kText, "f.textproto");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().rfind("f.textproto:1:", 0), 0u) << bad.error();
  EXPECT_FALSE(parse_gateway_config("{\"bogus\": 1}", ConfigFormat::kJson, "j"));
  EXPECT_FALSE(
      parse_gateway_config(std::string(kMaxConfigBytes + 1, ' '), ConfigFormat::kText, "big"));
  auto missing = load_gateway_config("/nonexistent/ike.textproto");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "/nonexistent/ike.textproto: cannot open: No such file or directory");
}

struct Rule {
  const char* what;
  std::function<void(v1::GatewayConfig&)> edit;
  const char* error;
};

TEST(Validate, EveryRule) {
  auto conn = [](v1::GatewayConfig& c, int i) { return c.mutable_connections(i); };
  const Rule rules[] = {
      {"dataplane_socket required", [](auto& c) { c.clear_dataplane_socket(); },
       "dataplane_socket: must be set"},
      {"dataplane_socket length",
       [](auto& c) { c.set_dataplane_socket("/" + std::string(107, 'a')); },
       "dataplane_socket: is 108 bytes, a unix socket path holds at most 107"},
      {"unix_socket directory", [](auto& c) { c.set_unix_socket("/run/"); },
       "unix_socket: names a directory, not a socket file"},
      {"operator endpoint listen",
       [](auto& c) { c.mutable_operator_endpoint()->set_listen("127.0.0.1"); },
       "operator_endpoint.listen: '127.0.0.1' is not address:port"},
      {"operator endpoint port",
       [](auto& c) { c.mutable_operator_endpoint()->set_listen("127.0.0.1:70000"); },
       "operator_endpoint.listen: port '70000' is not 1..65535"},
      {"operator endpoint certificate",
       [](auto& c) { c.mutable_operator_endpoint()->set_listen("127.0.0.1:9443"); },
       "operator_endpoint.certificate: required (PEM chain)"},
      {"operator endpoint client CA",
       [](auto& c) {
         auto* e = c.mutable_operator_endpoint();
         e->set_listen("127.0.0.1:9443");
         e->set_certificate("/x.pem");
         e->set_private_key("/x.key");
       },
       "operator_endpoint.client_ca: required: operators must present client certificates"},
      {"retransmit_ms", [](auto& c) { c.mutable_timers()->set_retransmit_ms(5); },
       "timers.retransmit_ms: 5 is outside 100-60000"},
      {"retransmit_tries", [](auto& c) { c.mutable_timers()->set_retransmit_tries(99); },
       "timers.retransmit_tries: 99 is more than the maximum, 20"},
      {"listener address", [](auto& c) { c.add_tcp_listeners()->set_address("300.1.1.1"); },
       "tcp_listeners[0].address: '300.1.1.1' is not an IPv4 or IPv6 address"},
      {"listener ports required", [](auto& c) { c.add_tcp_listeners()->set_address("0.0.0.0"); },
       "tcp_listeners[0].ports: at least one port is required"},
      {"listener port range",
       [](auto& c) {
         auto* l = c.add_tcp_listeners();
         l->set_address("::");
         l->add_ports(70000);
       },
       "tcp_listeners[0].ports[0]: 70000 is not a TCP port (1-65535)"},
      {"listener duplicate",
       [](auto& c) {
         auto* l = c.add_tcp_listeners();
         l->set_address("192.0.2.1");
         l->add_ports(10000);
         l->add_ports(10000);
       },
       "tcp_listeners[0].ports[1]: 192.0.2.1 port 10000 is already listed at "
       "tcp_listeners[0].ports[0]"},
      {"secret ids required", [](auto& c) { c.mutable_secrets(0)->clear_ids(); },
       "secrets[0].ids: at least one identity is required"},
      {"secret id syntax", [](auto& c) { c.mutable_secrets(0)->set_ids(0, "ipv4:peer"); },
       "secrets[0].ids[0]: 'ipv4:peer': 'peer' is not an IPv4 address"},
      {"secret too short", [](auto& c) { c.mutable_secrets(0)->set_secret("short"); },
       "secrets[0].secret: is 5 bytes, a pre-shared key needs at least 16"},
      {"hex secret too short", [](auto& c) { c.mutable_secrets(0)->set_secret("0x00112233"); },
       "secrets[0].secret: is 4 bytes, a pre-shared key needs at least 16"},
      {"hex secret syntax", [](auto& c) { c.mutable_secrets(0)->set_secret("0x0g"); },
       "secrets[0].secret: hex secret has a non-hex character at offset 3"},
      {"secret id twice",
       [](auto& c) {
         *c.add_secrets() = c.secrets(0);
         c.mutable_secrets(1)->set_ids(0, "peer.example");
       },
       "secrets[1].ids[0]: 'peer.example' is already listed at secrets[0].ids[0]"},
      {"name required", [&](auto& c) { conn(c, 0)->clear_name(); },
       "connections[0].name: must be set"},
      {"name syntax", [&](auto& c) { conn(c, 1)->set_name("a b"); },
       "connections[1].name: 'a b' is not a connection name ([A-Za-z0-9_.-]{1,64})"},
      {"name duplicate", [&](auto& c) { conn(c, 1)->set_name("site"); },
       "connections[1].name: duplicate of connections[0]"},
      {"local_address required", [&](auto& c) { conn(c, 0)->clear_local_address(); },
       "connections[0].local_address: must be set"},
      {"local_address unicast", [&](auto& c) { conn(c, 0)->set_local_address("0.0.0.0"); },
       "connections[0].local_address: '0.0.0.0' is the unspecified address"},
      {"remote_address syntax", [&](auto& c) { conn(c, 0)->set_remote_address("peer.example"); },
       "connections[0].remote_address: 'peer.example' is not an IPv4 or IPv6 address"},
      {"remote_address family", [&](auto& c) { conn(c, 0)->set_remote_address("2001:db8::1"); },
       "connections[0].remote_address: is IPv6, local_address is not"},
      {"local_id syntax", [&](auto& c) { conn(c, 0)->set_local_id("email:x"); },
       "connections[0].local_id: 'email:x': 'x' is not an email address"},
      {"local_id wildcard", [&](auto& c) { conn(c, 0)->set_local_id("*.example.com"); },
       "connections[0].local_id: a wildcard cannot be our own identity"},
      {"remote_id syntax", [&](auto& c) { conn(c, 0)->set_remote_id("x:y"); },
       "connections[0].remote_id: 'x:y' is not an identity (fqdn:, email:, ipv4:, ipv6:, dn:, or a "
       "bare address or domain name)"},
      {"pubkey without trust anchors",
       [&](auto& c) { conn(c, 0)->set_remote_auth(v1::AUTH_KIND_PUBKEY); },
       "connections[0].remote_auth: PUBKEY needs trust anchors: ca_certificates lists no CA file"},
      {"auth enum", [&](auto& c) { conn(c, 0)->set_local_auth(static_cast<v1::AuthKind>(9)); },
       "connections[0].local_auth: 9 is not an AuthKind"},
      {"ike proposal token",
       [&](auto& c) { conn(c, 1)->add_ike_proposals("aes999-sha256-ecp256"); },
       "connections[1].ike_proposals[0]: unknown token 'aes999' in 'aes999-sha256-ecp256'"},
      {"esp proposal token", [&](auto& c) { conn(c, 0)->add_esp_proposals("aes128gcm16-sha1"); },
       "connections[0].esp_proposals[0]: integrity algorithm 'sha1' with AEAD encryption in "
       "'aes128gcm16-sha1' (an AEAD cipher has its own integrity check)"},
      {"esp not installable", [&](auto& c) { conn(c, 0)->add_esp_proposals("aes192-sha256"); },
       "connections[0].esp_proposals[0]: the dataplane has no ESP algorithm aes192-sha256 (it has "
       "aes128gcm16, aes256gcm16, chacha20poly1305, aes128/aes256 with sha1/sha256, null with "
       "sha1/sha256)"},
      {"local_ts required", [&](auto& c) { conn(c, 0)->clear_local_ts(); },
       "connections[0].local_ts: at least one selector is required"},
      {"local_ts syntax", [&](auto& c) { conn(c, 0)->add_local_ts("10.1.0.1/24"); },
       "connections[0].local_ts[1]: '10.1.0.1/24' has bits set after /24 (write 10.1.0.0/24)"},
      {"remote_ts required", [&](auto& c) { conn(c, 0)->clear_remote_ts(); },
       "connections[0].remote_ts: at least one selector is required (or an address_pool)"},
      {"mode enum", [&](auto& c) { conn(c, 0)->set_mode(static_cast<v1::Mode>(7)); },
       "connections[0].mode: 7 is not a Mode"},
      {"rfc9329 refused",
       [&](auto& c) { conn(c, 0)->mutable_transport()->set_tcp_flavor(v1::TCP_FLAVOR_RFC9329); },
       "connections[0].transport.tcp_flavor: RFC9329 (TCP stream encapsulation) is not implemented "
       "yet; use PSEUDO"},
      {"encapsulation enum",
       [&](auto& c) {
         conn(c, 0)->mutable_transport()->set_encapsulation(static_cast<v1::IkeEncapsulation>(8));
       },
       "connections[0].transport.encapsulation: 8 is not an Encapsulation"},
      {"remote_tcp_port",
       [&](auto& c) { conn(c, 0)->mutable_transport()->set_remote_tcp_port(65536); },
       "connections[0].transport.remote_tcp_port: 65536 is not a TCP port (1-65535)"},
      {"auto_fallback",
       [&](auto& c) { conn(c, 0)->mutable_transport()->set_auto_fallback_retransmits(21); },
       "connections[0].transport.auto_fallback_retransmits: 21 is more than the maximum, 20"},
      {"ike lifetime", [&](auto& c) { conn(c, 0)->set_ike_lifetime_s(10); },
       "connections[0].ike_lifetime_s: 10 is outside 60-604800 seconds"},
      {"child lifetime", [&](auto& c) { conn(c, 0)->set_child_lifetime_s(700000); },
       "connections[0].child_lifetime_s: 700000 is outside 60-604800 seconds"},
      {"dpd", [&](auto& c) { conn(c, 0)->set_dpd_delay_s(90000); },
       "connections[0].dpd_delay_s: 90000 is more than the maximum, 86400"},
      {"auto_start needs peer", [&](auto& c) { conn(c, 1)->set_auto_start(true); },
       "connections[1].auto_start: needs remote_address (the peer to initiate to)"},
      {"virtual ip needs peer", [&](auto& c) { conn(c, 1)->set_request_virtual_ip(true); },
       "connections[1].request_virtual_ip: needs remote_address (an initiator asks for it)"},
      {"pool and request",
       [&](auto& c) {
         conn(c, 0)->set_address_pool("10.3.0.0/24");
         conn(c, 0)->set_request_virtual_ip(true);
       },
       "connections[0].address_pool: a connection cannot both hand out and request a virtual "
       "address"},
      {"pool syntax", [&](auto& c) { conn(c, 1)->set_address_pool("10.3.0.0/33"); },
       "connections[1].address_pool: address pool: '10.3.0.0/33' has a bad prefix length (0-32)"},
      {"psk missing", [&](auto& c) { conn(c, 0)->set_remote_id("fqdn:other.example"); },
       "connections[0].remote_id: no secret in secrets lists 'fqdn:other.example' (PSK "
       "authentication)"},
      {"psk missing by address", [&](auto& c) { conn(c, 0)->clear_remote_id(); },
       "connections[0].remote_address: no secret in secrets lists '198.51.100.1' (PSK "
       "authentication)"},
  };
  for (const Rule& r : rules) EXPECT_EQ(error_after(r.edit), r.error) << r.what;
}

TEST(Defaults, EveryDocumentedDefault) {
  v1::GatewayConfig c = with_defaults(base());
  EXPECT_TRUE(validate_gateway_config(c));
  EXPECT_EQ(c.timers().retransmit_ms(), 1000u);
  EXPECT_EQ(c.timers().retransmit_tries(), 5u);
  EXPECT_EQ(c.timers().cookie_threshold(), 100u);
  const v1::Connection& s = c.connections(0);
  EXPECT_EQ(std::vector<std::string>(s.ike_proposals().begin(), s.ike_proposals().end()),
            (std::vector<std::string>{"aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384",
                                      "aes128-sha256-modp2048"}));
  EXPECT_EQ(std::vector<std::string>(s.esp_proposals().begin(), s.esp_proposals().end()),
            (std::vector<std::string>{"aes128gcm16", "aes128-sha256"}));
  EXPECT_EQ(s.ike_lifetime_s(), 14400u);
  EXPECT_EQ(s.child_lifetime_s(), 3600u);
  EXPECT_EQ(s.transport().encapsulation(), v1::ENCAPSULATION_UDP);
  EXPECT_EQ(s.transport().tcp_flavor(), v1::TCP_FLAVOR_PSEUDO);
  EXPECT_EQ(s.transport().remote_tcp_port(), 10000u);
  EXPECT_EQ(s.transport().auto_fallback_retransmits(), 2u);
  EXPECT_EQ(s.mode(), v1::MODE_TUNNEL);
  EXPECT_EQ(s.local_auth(), v1::AUTH_KIND_PSK);
  EXPECT_EQ(s.remote_auth(), v1::AUTH_KIND_PSK);
  EXPECT_EQ(s.local_id(), "192.0.2.1");
  EXPECT_EQ(s.remote_id(), "fqdn:peer.example");  // set: kept
  EXPECT_EQ(s.dpd_delay_s(), 0u);                 // 0 means off: kept
  const v1::Connection& ra = c.connections(1);
  EXPECT_EQ(ra.remote_id(), "");  // %any: any peer
  ASSERT_EQ(ra.remote_ts_size(), 1);
  EXPECT_EQ(ra.remote_ts(0), "10.3.0.0/24");
  // Explicit values stay.
  v1::GatewayConfig e = base();
  e.mutable_connections(0)->set_ike_lifetime_s(600);
  e.mutable_connections(0)->mutable_transport()->set_remote_tcp_port(443);
  e = with_defaults(e);
  EXPECT_EQ(e.connections(0).ike_lifetime_s(), 600u);
  EXPECT_EQ(e.connections(0).transport().remote_tcp_port(), 443u);
}

TEST(Secrets, Lookup) {
  v1::GatewayConfig c = base();
  auto* s = c.add_secrets();
  s->add_ids("*.clients.example");
  s->set_secret("0x00112233445566778899aabbccddeeff");
  auto* both = c.add_secrets();
  both->add_ids("gw.example");
  both->add_ids("peer.example");
  both->set_secret("a key for gw and peer");

  auto k = secret_for(c, "", "fqdn:peer.example");
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(std::string(k->begin(), k->end()), "0123456789abcdef");
  k = secret_for(c, "fqdn:gw.example", "peer.example");  // lists both: preferred
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(std::string(k->begin(), k->end()), "a key for gw and peer");
  k = secret_for(c, *selectors::parse_identity("gw.example"),
                 *selectors::parse_identity("laptop.clients.example"));
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(k->size(), 16u);
  EXPECT_EQ((*k)[15], 0xff);
  auto none = secret_for(c, "", "ipv4:192.0.2.99");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), "no pre-shared key for ipv4:192.0.2.99");
}

// Certificates: a PKI made at test time (tests/controlplane/certs/test_pki.h).
struct CertFixture {
  certs::testing::TempDir dir;
  certs::testing::TestCa ca{dir, "ca"};
  certs::testing::Issued gw = ca.issue("gw", {"DNS:gw.test", "IP:192.0.2.1"}, "ec256");
  certs::testing::Issued other = ca.issue("other", {"DNS:other.test"}, "rsa2048");

  // base() with connection "site" on certificates both ways.
  v1::GatewayConfig config() const {
    v1::GatewayConfig c = base();
    c.add_ca_certificates(ca.cert_path);
    v1::Connection& site = *c.mutable_connections(0);
    site.set_local_auth(v1::AUTH_KIND_PUBKEY);
    site.set_remote_auth(v1::AUTH_KIND_PUBKEY);
    site.set_local_id("fqdn:gw.test");
    site.set_local_certificate(gw.cert_path);
    site.set_local_private_key(gw.key_path);
    return c;
  }
  std::string error_after(const std::function<void(v1::GatewayConfig&)>& edit) const {
    v1::GatewayConfig c = config();
    edit(c);
    Status s = validate_gateway_config(c);
    return s ? "(valid)" : s.message();
  }
};

TEST(Certificates, ValidAndEveryRule) {
  CertFixture f;
  EXPECT_TRUE(validate_gateway_config(f.config())) << validate_gateway_config(f.config()).message();
  // The address is bound too (IP SAN), so no local_id works.
  EXPECT_EQ(f.error_after([](auto& c) { c.mutable_connections(0)->clear_local_id(); }), "(valid)");
  auto site = [](v1::GatewayConfig& c) { return c.mutable_connections(0); };
  const std::string d = f.dir.path();
  struct Case {
    const char* what;
    std::function<void(v1::GatewayConfig&)> edit;
    std::string error;
  } cases[] = {
      {"no certificate", [&](auto& c) { site(c)->clear_local_certificate(); },
       "connections[0].local_certificate: must be set (local_auth is PUBKEY)"},
      {"no key", [&](auto& c) { site(c)->clear_local_private_key(); },
       "connections[0].local_private_key: must be set (local_auth is PUBKEY)"},
      {"missing file", [&](auto& c) { site(c)->set_local_certificate(d + "/none.pem"); },
       "connections[0].local_certificate: " + d +
           "/none.pem: cannot open: No such file or directory"},
      {"key is not a certificate", [&](auto& c) { site(c)->set_local_certificate(f.gw.key_path); },
       "connections[0].local_certificate: " + f.gw.key_path + ": no PEM certificate in it"},
      {"key of another certificate",
       [&](auto& c) { site(c)->set_local_private_key(f.other.key_path); },
       "connections[0].local_private_key: " + f.other.key_path +
           ": this RSA 2048 key does not belong to the first certificate of " + f.gw.cert_path +
           " (\"C=XX, O=tcpsec test, CN=gw.test\")"},
      {"local_id not in the certificate", [&](auto& c) { site(c)->set_local_id("fqdn:gw2.test"); },
       "connections[0].local_id: identity fqdn:gw2.test is not in the subjectAltName of "
       "certificate \"C=XX, O=tcpsec test, CN=gw.test\" (DNS:gw.test, IP:192.0.2.1)"},
      {"local_id as the subject DN",
       [&](auto& c) { site(c)->set_local_id("dn:C=XX, O=tcpsec test, CN=gw.test"); }, "(valid)"},
      {"certificate with PSK", [&](auto& c) { site(c)->set_local_auth(v1::AUTH_KIND_PSK); },
       "connections[0].local_certificate: is set but local_auth is not PUBKEY"},
      {"ca file missing", [&](auto& c) { c.add_ca_certificates(d + "/nope.pem"); },
       "ca_certificates[1]: " + d + "/nope.pem: cannot open: No such file or directory"},
      {"ca file holds no CA", [&](auto& c) { c.add_ca_certificates(f.gw.cert_path); },
       "ca_certificates[1]: " + f.gw.cert_path +
           ": certificate \"C=XX, O=tcpsec test, CN=gw.test\" is not a CA (no basicConstraints "
           "CA:TRUE)"},
      {"crl file is no CRL", [&](auto& c) { c.add_crl_files(f.ca.cert_path); },
       "crl_files[0]: " + f.ca.cert_path + ": no PEM CRL (X509 CRL) in it"},
      {"remote certificates only, with a PSK of ours",
       [&](auto& c) {
         site(c)->set_local_auth(v1::AUTH_KIND_PSK);
         site(c)->clear_local_certificate();
         site(c)->clear_local_private_key();
       },
       "(valid)"},
  };
  for (const Case& c : cases) EXPECT_EQ(f.error_after(c.edit), c.error) << c.what;
}

TEST(Certificates, RelativePathsFollowTheConfigFile) {
  CertFixture f;
  std::string text =
      "dataplane_socket: \"/x.sock\"\nca_certificates: \"ca.pem\"\n"
      "crl_files: \"/abs/crl.pem\"\n"
      "connections { name: \"a\" local_certificate: \"gw.pem\" "
      "local_private_key: \"sub/gw.key.pem\" }\n";
  std::ofstream(f.dir.file("ike.textproto")) << text;
  auto c = load_gateway_config(f.dir.file("ike.textproto"));
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->ca_certificates(0), f.ca.cert_path);
  EXPECT_EQ(c->crl_files(0), "/abs/crl.pem");
  EXPECT_EQ(c->connections(0).local_certificate(), f.gw.cert_path);
  EXPECT_EQ(c->connections(0).local_private_key(), f.dir.file("sub/gw.key.pem"));
}

TEST(Examples, EveryIkeFileLoadsAndValidates) {
  std::string dir = TCPSEC_CONFIG_DIR;
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  int seen = 0;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("ike-", 0) != 0 || name.size() < 10 ||
        name.substr(name.size() - 10) != ".textproto") {
      continue;
    }
    ++seen;
    auto c = load_validated_gateway_config(dir + "/" + name);
    EXPECT_TRUE(c) << name << ": " << c.error();
  }
  closedir(d);
  EXPECT_GE(seen, 2);
  auto client = load_validated_gateway_config(dir + "/ike-client.textproto");
  ASSERT_TRUE(client) << client.error();
  EXPECT_EQ(client->connections(0).transport().encapsulation(), v1::IKE_ENCAPSULATION_AUTO);
  auto gw = load_validated_gateway_config(dir + "/ike-gateway.textproto");
  ASSERT_TRUE(gw) << gw.error();
  EXPECT_EQ(gw->tcp_listeners(0).ports(0), 10000u);
  EXPECT_EQ(gw->connections(0).address_pool(), "10.3.0.0/24");
  auto certs = load_validated_gateway_config(dir + "/ike-certs.textproto");
  ASSERT_TRUE(certs) << certs.error();
  EXPECT_EQ(certs->connections(0).local_auth(), v1::AUTH_KIND_PUBKEY);
  EXPECT_EQ(certs->ca_certificates(0), dir + "/certs/example-ca.pem");
}

}  // namespace
}  // namespace tcpsec::ikeconfig

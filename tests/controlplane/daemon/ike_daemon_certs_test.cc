// Two IkeDaemons authenticating with certificates (AUTH_KIND_PUBKEY)
// through MockDataplaneLinks, on a PKI made at test time
// (tests/controlplane/certs/test_pki.h): ECDSA (P-256 / P-384) and RSA,
// mixed; and refusals with the reason in the auth_failed event: a
// certificate from a CA the other side does not trust (either role), an
// identity that is not in the certificate.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "controlplane/config/gateway_config.h"
#include "controlplane/daemon/ike_daemon.h"
#include "controlplane/link/mock_dataplane_link.h"
#include "tests/controlplane/certs/test_pki.h"
#include "tests/controlplane/daemon/daemon_pair.h"

namespace tcpsec::daemon {
namespace {

using namespace std::chrono_literals;
using certs::testing::Issued;
using certs::testing::TempDir;
using certs::testing::TestCa;
using testing::eventually;
using testing::Pump;
using testing::Side;

constexpr const char* kA = "192.0.2.10";
constexpr const char* kB = "192.0.2.20";

struct Creds {
  std::string cert, key;         // paths
  std::vector<std::string> cas;  // trust anchors
  std::string local_id;          // "fqdn:a.test"
};

// A (initiator, 10.1.0.0/24) or B (responder, 10.2.0.0/24) with
// certificates both ways; `validate`: false to keep a configuration the
// validator would refuse (a lying peer).
v1::GatewayConfig config(bool a_side, const Creds& me, bool validate = true) {
  std::string text = std::string("dataplane_socket: \"/nonexistent/dp.sock\"\n");
  for (const auto& ca : me.cas) text += "ca_certificates: \"" + ca + "\"\n";
  text += std::string() + "timers { retransmit_ms: 100 retransmit_tries: 3 }\n" +
          "connections {\n  name: \"site\"\n" + "  local_address: \"" + (a_side ? kA : kB) +
          "\"\n  remote_address: \"" + (a_side ? kB : kA) + "\"\n  local_id: \"" + me.local_id +
          "\"\n  remote_id: \"fqdn:" + (a_side ? "b" : "a") + ".test\"\n" +
          "  local_auth: AUTH_KIND_PUBKEY\n  remote_auth: AUTH_KIND_PUBKEY\n" +
          "  local_certificate: \"" + me.cert + "\"\n  local_private_key: \"" + me.key + "\"\n" +
          "  ike_proposals: \"aes128-sha256-ecp256\"\n  esp_proposals: \"aes128gcm16\"\n" +
          "  local_ts: \"" + (a_side ? "10.1.0.0/24" : "10.2.0.0/24") + "\"\n" + "  remote_ts: \"" +
          (a_side ? "10.2.0.0/24" : "10.1.0.0/24") + "\"\n" +
          "  auto_start: " + (a_side ? "true" : "false") + "\n}\n";
  auto parsed = ikeconfig::parse_gateway_config(text, ikeconfig::ConfigFormat::kText, "test");
  EXPECT_TRUE(parsed) << parsed.error();
  if (validate) {
    auto s = ikeconfig::validate_gateway_config(*parsed);
    EXPECT_TRUE(s) << s.message();
  }
  return ikeconfig::with_defaults(*parsed);
}

bool installed_outbound(Side& s) {
  for (const auto& r : s.link.applied())
    for (const auto& sa : r.add_sas())
      if (sa.direction() == v1::DIRECTION_OUTBOUND) return true;
  return false;
}

struct Pki {
  TempDir dir;
  TestCa ca{dir, "ca"};
  TestCa rogue{dir, "rogue"};

  Creds issue(TestCa& by, const std::string& name, const std::string& kind,
              const std::vector<std::string>& sans, const std::string& local_id) {
    Issued i = by.issue(name, sans, kind);
    return Creds{i.cert_path, i.key_path, {ca.cert_path}, local_id};
  }
};

void expect_up(const std::string& a_kind, const std::string& b_kind) {
  Pki pki;
  Creds ca = pki.issue(pki.ca, "a", a_kind, {"DNS:a.test"}, "fqdn:a.test");
  Creds cb = pki.issue(pki.ca, "b", b_kind, {"DNS:b.test", "IP:192.0.2.20"}, "fqdn:b.test");
  Side a(config(true, ca)), b(config(false, cb));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("child_up") && b.saw("child_up"); }))
      << "A:\n"
      << a.event_text() << "B:\n"
      << b.event_text();
  EXPECT_FALSE(a.saw("auth_failed") || b.saw("auth_failed"));
  auto list_a = a.daemon->list(), list_b = b.daemon->list();
  ASSERT_EQ(list_a.ike_sas_size(), 1);
  EXPECT_EQ(list_a.ike_sas(0).remote_id(), "fqdn:b.test");
  ASSERT_EQ(list_b.ike_sas_size(), 1);
  EXPECT_EQ(list_b.ike_sas(0).remote_id(), "fqdn:a.test");
  EXPECT_TRUE(installed_outbound(a) && installed_outbound(b));
  EXPECT_GT(pump.largest.load(), 400u);  // certificates travelled
}

TEST(IkeDaemonCerts, EcdsaBothWays) {
  expect_up("ec256", "ec384");
}

TEST(IkeDaemonCerts, RsaBothWays) {
  expect_up("rsa2048", "rsa2048");
}

TEST(IkeDaemonCerts, RsaAgainstEcdsa) {
  expect_up("rsa2048", "ec256");
}

TEST(IkeDaemonCerts, InitiatorFromAnUntrustedCaIsRefused) {
  Pki pki;
  Creds ca = pki.issue(pki.rogue, "a", "ec256", {"DNS:a.test"}, "fqdn:a.test");
  ca.cas = {pki.rogue.cert_path};  // A trusts the rogue CA, B only the real one
  Creds cb = pki.issue(pki.ca, "b", "ec256", {"DNS:b.test"}, "fqdn:b.test");
  Side a(config(true, ca)), b(config(false, cb));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return b.saw("auth_failed") && a.saw("ike_down"); }))
      << a.event_text() << b.event_text();
  EXPECT_NE(b.event_text().find("auth_failed: IKE_AUTH from fqdn:a.test: certificate \"C=XX, "
                                "O=tcpsec test, CN=a.test\" is not trusted: unable to get local "
                                "issuer certificate"),
            std::string::npos)
      << b.event_text();
  EXPECT_NE(a.event_text().find("AUTHENTICATION_FAILED"), std::string::npos) << a.event_text();
  EXPECT_TRUE(b.link.applied().empty());
  EXPECT_FALSE(installed_outbound(a));
}

TEST(IkeDaemonCerts, ResponderFromAnUntrustedCaIsRefusedByTheInitiator) {
  Pki pki;
  Creds ca = pki.issue(pki.ca, "a", "ec256", {"DNS:a.test"}, "fqdn:a.test");
  Creds cb = pki.issue(pki.rogue, "b", "rsa2048", {"DNS:b.test"}, "fqdn:b.test");
  cb.cas = {pki.rogue.cert_path, pki.ca.cert_path};  // B trusts both
  Side a(config(true, ca)), b(config(false, cb));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return a.saw("auth_failed"); })) << a.event_text() << b.event_text();
  EXPECT_NE(a.event_text().find("IKE_AUTH from fqdn:b.test: certificate \"C=XX, O=tcpsec test, "
                                "CN=b.test\" is not trusted"),
            std::string::npos)
      << a.event_text();
  EXPECT_FALSE(installed_outbound(a));
}

TEST(IkeDaemonCerts, IdentityNotInTheCertificateIsRefused) {
  Pki pki;
  // A claims fqdn:a.test with a certificate for x.test (its validator
  // would say so: skipped, A plays a lying peer).
  Creds ca = pki.issue(pki.ca, "a", "ec256", {"DNS:x.test"}, "fqdn:a.test");
  Creds cb = pki.issue(pki.ca, "b", "ec256", {"DNS:b.test"}, "fqdn:b.test");
  v1::GatewayConfig liar = config(true, ca, false);
  EXPECT_FALSE(ikeconfig::validate_gateway_config(liar));
  Side a(liar), b(config(false, cb));
  Pump pump(a, b);
  pump.start_all();
  ASSERT_TRUE(eventually([&] { return b.saw("auth_failed") && a.saw("ike_down"); }))
      << a.event_text() << b.event_text();
  EXPECT_NE(b.event_text().find("auth_failed: IKE_AUTH from fqdn:a.test: identity fqdn:a.test "
                                "is not in the subjectAltName of certificate \"C=XX, O=tcpsec "
                                "test, CN=x.test\" (DNS:x.test)"),
            std::string::npos)
      << b.event_text();
  EXPECT_NE(a.event_text().find("AUTHENTICATION_FAILED"), std::string::npos) << a.event_text();
  EXPECT_FALSE(installed_outbound(a));
  EXPECT_TRUE(b.link.applied().empty());
}

}  // namespace
}  // namespace tcpsec::daemon

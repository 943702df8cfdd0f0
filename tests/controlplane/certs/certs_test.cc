// controlplane/certs against a PKI made at test time (test_pki.h): loading
// and its errors, chain verification (good chain, intermediates, wrong CA,
// expired, not yet valid, revoked by a CRL, unfit usage), identity binding
// (SAN FQDN/email/IP, subject DN, mismatches), CERTREQ hashes, and the
// AUTH method per key with a sign/verify round trip for RSA and ECDSA.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <fstream>

#include "controlplane/certs/certs.h"
#include "controlplane/selectors/identity.h"
#include "tests/controlplane/certs/test_pki.h"

namespace tcpsec::certs {
namespace {

using testing::Issued;
using testing::TempDir;
using testing::TestCa;
using testing::Validity;

ike::Id id(const std::string& text) {
  auto i = selectors::parse_identity(text);
  EXPECT_TRUE(i) << i.error();
  return *i;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Load, ChainKeyAndErrorsNameTheFile) {
  TempDir dir;
  TestCa ca(dir, "ca");
  Issued gw = ca.issue("gw", {"DNS:gw.test"});
  auto creds = LocalCredentials::load(gw.cert_path, gw.key_path);
  ASSERT_TRUE(creds) << creds.error();
  EXPECT_EQ(subject_text(creds->certificate()), "C=XX, O=tcpsec test, CN=gw.test");
  EXPECT_EQ(key_description(creds->key()), "EC P-256");

  auto missing = load_certificates(dir.file("nope.pem"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), dir.file("nope.pem") + ": cannot open: No such file or directory");

  std::ofstream(dir.file("junk.pem")) << "hello\n";
  auto junk = load_certificates(dir.file("junk.pem"));
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error(), dir.file("junk.pem") + ": no PEM certificate in it");
  auto junk_key = load_private_key(dir.file("junk.pem"));
  ASSERT_FALSE(junk_key);
  EXPECT_EQ(junk_key.error(), dir.file("junk.pem") + ": no PEM private key in it");
  // A key file given as the certificate, and the other way round.
  EXPECT_FALSE(load_certificates(gw.key_path));
  EXPECT_FALSE(load_private_key(gw.cert_path));

  // A key that is not the certificate's.
  Issued other = ca.issue("other", {"DNS:other.test"});
  auto mismatch = LocalCredentials::load(gw.cert_path, other.key_path);
  ASSERT_FALSE(mismatch);
  EXPECT_TRUE(
      contains(mismatch.error(), "does not belong to the first certificate of " + gw.cert_path))
      << mismatch.error();
}

TEST(Verify, GoodChainRsaAndEcdsa) {
  TempDir dir;
  TestCa ca(dir, "ca", "ec256");
  auto trust = TrustStore::load({ca.cert_path}, {});
  ASSERT_TRUE(trust) << trust.error();
  for (const char* kind : {"ec256", "ec384", "rsa2048"}) {
    Issued ee = ca.issue(std::string("ee-") + kind, {"DNS:ee.test"}, kind);
    EXPECT_TRUE(trust->verify(ee.cert.get(), {})) << kind;
  }
  // An RSA CA too.
  TestCa rsa_ca(dir, "rsa-ca", "rsa2048");
  auto rsa_trust = TrustStore::load({rsa_ca.cert_path}, {});
  ASSERT_TRUE(rsa_trust) << rsa_trust.error();
  Issued ee = rsa_ca.issue("ee-r", {"DNS:ee.test"}, "ec256");
  EXPECT_TRUE(rsa_trust->verify(ee.cert.get(), {}));
}

TEST(Verify, IntermediateFromThePeer) {
  TempDir dir;
  TestCa root(dir, "root");
  Issued sub = root.issue("sub", {}, "ec256", {}, true, "tcpsec test sub CA");
  auto trust = TrustStore::load({root.cert_path}, {});
  ASSERT_TRUE(trust) << trust.error();
  // A CA certificate chains, but its keyUsage (keyCertSign) does not sign AUTH.
  Status ca_as_ee = trust->verify(sub.cert.get(), {});
  ASSERT_FALSE(ca_as_ee);
  EXPECT_TRUE(contains(ca_as_ee.message(), "keyUsage allows neither")) << ca_as_ee.message();

  // Build an EE under `sub` by hand.
  X509Ptr ee(X509_new());
  PkeyPtr key = testing::make_key("ec256");
  X509_set_version(ee.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ee.get()), 77);
  X509_gmtime_adj(X509_getm_notBefore(ee.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(ee.get()), 3600);
  X509_set_pubkey(ee.get(), key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(ee.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("leaf.test"), -1, -1, 0);
  X509_set_issuer_name(ee.get(), X509_get_subject_name(sub.cert.get()));
  testing::add_ext(ee.get(), sub.cert.get(), NID_subject_alt_name, "DNS:leaf.test");
  ASSERT_NE(X509_sign(ee.get(), sub.key.get(), EVP_sha256()), 0);

  Status without = trust->verify(ee.get(), {});
  ASSERT_FALSE(without);
  EXPECT_TRUE(contains(without.message(), "is not trusted: unable to get local issuer"))
      << without.message();
  std::vector<X509Ptr> inter;
  inter.emplace_back(X509_dup(sub.cert.get()));
  EXPECT_TRUE(trust->verify(ee.get(), inter)) << trust->verify(ee.get(), inter).message();
}

TEST(Verify, WrongCaIsNotTrusted) {
  TempDir dir;
  TestCa ca(dir, "ca"), other(dir, "other");
  Issued ee = other.issue("ee", {"DNS:ee.test"});
  auto trust = TrustStore::load({ca.cert_path}, {});
  ASSERT_TRUE(trust) << trust.error();
  Status s = trust->verify(ee.cert.get(), {});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.message(),
            "certificate \"C=XX, O=tcpsec test, CN=ee.test\" is not trusted: unable to get local "
            "issuer certificate");
  // Same subject as our CA, another key: still refused (signature).
  TestCa twin(dir, "twin", "ec256", "tcpsec test ca");
  Issued forged = twin.issue("forged", {"DNS:ee.test"});
  Status f = trust->verify(forged.cert.get(), {});
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.message(), "is not trusted")) << f.message();
}

TEST(Verify, ExpiredAndNotYetValid) {
  TempDir dir;
  TestCa ca(dir, "ca");
  auto trust = TrustStore::load({ca.cert_path}, {});
  ASSERT_TRUE(trust);
  Issued expired = ca.issue("expired", {"DNS:ee.test"}, "ec256", Validity{-86400 * 10, -86400});
  Status s = trust->verify(expired.cert.get(), {});
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "is not valid: certificate has expired")) << s.message();
  Issued future = ca.issue("future", {"DNS:ee.test"}, "ec256", Validity{86400, 86400 * 10});
  Status f = trust->verify(future.cert.get(), {});
  ASSERT_FALSE(f);
  EXPECT_TRUE(contains(f.message(), "is not valid: certificate is not yet valid")) << f.message();
  // Checked at a chosen time, the expired one was fine then.
  EXPECT_TRUE(trust->verify(expired.cert.get(), {}, std::time(nullptr) - 86400 * 5));
}

TEST(Verify, CrlRevokesAndIsOptionalPerIssuer) {
  TempDir dir;
  TestCa ca(dir, "ca"), ca2(dir, "ca2");
  Issued good = ca.issue("good", {"DNS:good.test"});
  Issued bad = ca.issue("bad", {"DNS:bad.test"});
  Issued other = ca2.issue("other", {"DNS:other.test"});
  std::string crl = ca.crl("ca.crl.pem", {bad.cert.get()});
  auto trust = TrustStore::load({ca.cert_path, ca2.cert_path}, {crl});
  ASSERT_TRUE(trust) << trust.error();
  EXPECT_TRUE(trust->verify(good.cert.get(), {}));
  Status s = trust->verify(bad.cert.get(), {});
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "is not trusted: certificate revoked")) << s.message();
  // ca2 has no CRL loaded: its certificates are not refused for that.
  EXPECT_TRUE(trust->verify(other.cert.get(), {})) << trust->verify(other.cert.get(), {}).message();
  auto bad_crl = TrustStore::load({ca.cert_path}, {ca.cert_path});
  ASSERT_FALSE(bad_crl);
  EXPECT_EQ(bad_crl.error(), ca.cert_path + ": no PEM CRL (X509 CRL) in it");
}

TEST(Verify, UsageAndNonCaAnchors) {
  TempDir dir;
  TestCa ca(dir, "ca");
  auto trust = TrustStore::load({ca.cert_path}, {});
  ASSERT_TRUE(trust);
  Issued mail = ca.issue("mail", {"DNS:m.test"}, "ec256", {}, false, "", "emailProtection");
  Status s = trust->verify(mail.cert.get(), {});
  ASSERT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "extendedKeyUsage holds none of")) << s.message();
  Issued ike = ca.issue("ike", {"DNS:i.test"}, "ec256", {}, false, "", "1.3.6.1.5.5.7.3.17");
  EXPECT_TRUE(trust->verify(ike.cert.get(), {}));
  Issued none = ca.issue("none", {"DNS:n.test"}, "ec256", {}, false, "", "");
  EXPECT_TRUE(trust->verify(none.cert.get(), {}));
  // An end-entity certificate is no trust anchor.
  auto not_ca = TrustStore::load({mail.cert_path}, {});
  ASSERT_FALSE(not_ca);
  EXPECT_TRUE(contains(not_ca.error(), "is not a CA")) << not_ca.error();
  EXPECT_FALSE(TrustStore::load({}, {}));
}

TEST(Identity, SanAndDn) {
  TempDir dir;
  TestCa ca(dir, "ca");
  Issued gw = ca.issue(
      "gw", {"DNS:GW.Example.test", "email:ops@Example.test", "IP:192.0.2.1", "IP:2001:db8::1"});
  X509* c = gw.cert.get();
  SanIdentities san = san_identities(c);
  ASSERT_EQ(san.dns.size(), 1u);
  ASSERT_EQ(san.ip.size(), 2u);
  EXPECT_TRUE(check_identity(c, id("fqdn:gw.example.test")));
  EXPECT_TRUE(check_identity(c, id("email:ops@example.TEST")));
  EXPECT_TRUE(check_identity(c, id("ipv4:192.0.2.1")));
  EXPECT_TRUE(check_identity(c, id("ipv6:2001:db8::1")));
  EXPECT_TRUE(check_identity(c, id("dn:C=XX, O=tcpsec test, CN=GW.Example.test")));
  EXPECT_EQ((ike::Id{ike::IdType::kDerAsn1Dn, subject_der(c)}),
            id("dn:C=XX, O=tcpsec test, CN=GW.Example.test"));

  Status no = check_identity(c, id("fqdn:other.example.test"));
  ASSERT_FALSE(no);
  EXPECT_EQ(no.message(),
            "identity fqdn:other.example.test is not in the subjectAltName of certificate "
            "\"C=XX, O=tcpsec test, CN=GW.Example.test\" (DNS:GW.Example.test, "
            "email:ops@Example.test, IP:192.0.2.1, IP:2001:db8::1)");
  EXPECT_FALSE(check_identity(c, id("email:OPS@example.test")));  // local part is exact
  EXPECT_FALSE(check_identity(c, id("ipv4:192.0.2.2")));
  // The CN alone does not bind an FQDN (only SANs do).
  Issued cn_only = ca.issue("cn", {"email:x@y.test"}, "ec256", {}, false, "cn.test");
  EXPECT_FALSE(check_identity(cn_only.cert.get(), id("fqdn:cn.test")));
  Status dn = check_identity(c, id("dn:C=XX, O=tcpsec test, CN=other"));
  ASSERT_FALSE(dn);
  EXPECT_TRUE(contains(dn.message(), "is not the certificate's subject")) << dn.message();
  EXPECT_FALSE(check_identity(c, ike::Id{ike::IdType::kKeyId, {1, 2, 3}}));
}

TEST(CertReq, AuthorityHashIsSha1OfSpki) {
  TempDir dir;
  TestCa a(dir, "a"), b(dir, "b", "rsa2048");
  auto trust = TrustStore::load({a.cert_path, b.cert_path}, {});
  ASSERT_TRUE(trust);
  Bytes hashes = trust->authority_hashes();
  ASSERT_EQ(hashes.size(), 40u);
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(a.key(), &der);
  ASSERT_GT(len, 0);
  Bytes want(20);
  SHA1(der, static_cast<size_t>(len), want.data());
  OPENSSL_free(der);
  EXPECT_EQ(Bytes(hashes.begin(), hashes.begin() + 20), want);
  EXPECT_EQ(Bytes(hashes.begin() + 20, hashes.end()), spki_sha1(b.cert()));
}

TEST(Signature, MethodPerKeyAndPeerHashes) {
  using ikecrypto::AuthMethod;
  using ikecrypto::SignatureHash;
  const uint16_t all[] = {2, 3, 4};
  const uint16_t sha256_only[] = {2};
  struct Case {
    const char* kind;
    std::span<const uint16_t> hashes;
    AuthMethod method;
    SignatureHash hash;
  } cases[] = {
      {"rsa2048", all, AuthMethod::kDigitalSignature, SignatureHash::kSha256},
      {"rsa2048", {}, AuthMethod::kRsaSignature, SignatureHash::kSha256},
      {"ec256", all, AuthMethod::kDigitalSignature, SignatureHash::kSha256},
      {"ec256", {}, AuthMethod::kEcdsaSha256P256, SignatureHash::kSha256},
      {"ec384", all, AuthMethod::kDigitalSignature, SignatureHash::kSha384},
      {"ec384", sha256_only, AuthMethod::kDigitalSignature, SignatureHash::kSha256},
      {"ec384", {}, AuthMethod::kEcdsaSha384P384, SignatureHash::kSha256},
  };
  const Bytes octets(100, 0x5a);
  for (const Case& c : cases) {
    PkeyPtr key = testing::make_key(c.kind);
    auto choice = choose_signature(key.get(), c.hashes);
    ASSERT_TRUE(choice) << choice.error();
    EXPECT_EQ(choice->method, c.method) << c.kind;
    EXPECT_EQ(choice->hash, c.hash) << c.kind;
    // What we choose signs, and verifies with the certificate's key.
    TempDir dir;
    TestCa ca(dir, "ca");
    Issued ee = ca.issue("ee", {"DNS:ee.test"}, c.kind);
    auto sig = ikecrypto::sign_auth(choice->method, ee.key.get(), octets, choice->hash);
    ASSERT_TRUE(sig) << sig.error();
    PkeyPtr pub = public_key(ee.cert.get());
    EXPECT_TRUE(ikecrypto::verify_auth(choice->method, pub.get(), octets, *sig)) << c.kind;
    Bytes tampered = octets;
    tampered[0] ^= 1;
    EXPECT_FALSE(ikecrypto::verify_auth(choice->method, pub.get(), tampered, *sig)) << c.kind;
  }
}

TEST(Der, RoundTripAndGarbage) {
  TempDir dir;
  TestCa ca(dir, "ca");
  Issued ee = ca.issue("ee", {"DNS:ee.test"});
  Bytes der = der_of(ee.cert.get());
  auto back = parse_der(der);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(X509_cmp(back->get(), ee.cert.get()), 0);
  der.push_back(0);
  EXPECT_FALSE(parse_der(der));
  EXPECT_FALSE(parse_der(Bytes{0x30, 0x03, 0x01, 0x01, 0x00}));
  EXPECT_FALSE(parse_der(Bytes{}));
}

}  // namespace
}  // namespace tcpsec::certs

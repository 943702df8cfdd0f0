// AUTH payload data (RFC 7296 2.15): signed octets and the shared key MIC
// against the Python reference; signatures: Python-made ECDSA AUTH data
// (methods 9, 10, 14) verified here, the RFC 4754 ECDSA-256 known answer,
// sign/verify round trips for every method, the RFC 7427
// AlgorithmIdentifiers against OpenSSL's own DER, and refusals.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "controlplane/crypto/auth.h"
#include "tests/controlplane/crypto/test_bytes.h"
#include "tests/controlplane/crypto/vectors/ike_crypto_vectors.h"

namespace tcpsec::ikecrypto {
namespace {

using test::Bytes;
using test::hex;
using test::to_hex;
namespace v = vectors;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// An EC public key from 0x04 | x | y.
Pkey ec_public(const char* group, std::span<const uint8_t> point) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return Pkey(key);
}

Pkey generate(const char* type, const char* curve_or_null, size_t rsa_bits = 0) {
  EVP_PKEY* k = curve_or_null ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve_or_null)
                              : EVP_PKEY_Q_keygen(nullptr, nullptr, type, rsa_bits);
  EXPECT_NE(k, nullptr);
  return Pkey(k);
}

TEST(Auth, SharedKeyMicMatchesPythonReference) {
  struct Case {
    PrfId prf;
    std::span<const uint8_t> sk_pi, octets, auth;
  };
  const Case cases[] = {
      {PrfId::kHmacSha256, v::k_cbc256_sha256_sk_pi, v::k_cbc256_sha256_auth_octets,
       v::k_cbc256_sha256_auth},
      {PrfId::kHmacSha512, v::k_cbc256_sha512_sk_pi, v::k_cbc256_sha512_auth_octets,
       v::k_cbc256_sha512_auth},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(to_string(c.prf));
    auto octets = signed_octets(c.prf, c.sk_pi, v::kAuthRealMessage1, v::kNr, v::kAuthIdiBody);
    ASSERT_TRUE(octets.has_value()) << octets.error();
    EXPECT_EQ(to_hex(*octets), to_hex(c.octets));
    auto auth = shared_key_auth(c.prf, v::kAuthPsk, *octets);
    ASSERT_TRUE(auth.has_value()) << auth.error();
    EXPECT_EQ(to_hex(*auth), to_hex(c.auth));
    EXPECT_TRUE(verify_shared_key_auth(c.prf, v::kAuthPsk, *octets, c.auth).is_ok());
  }
}

TEST(Auth, SharedKeyMicRefusals) {
  const PrfId prf = PrfId::kHmacSha256;
  const Bytes octets(std::begin(v::k_cbc256_sha256_auth_octets),
                     std::end(v::k_cbc256_sha256_auth_octets));
  Bytes auth(std::begin(v::k_cbc256_sha256_auth), std::end(v::k_cbc256_sha256_auth));
  Status wrong_psk = verify_shared_key_auth(prf, test::str("wrong"), octets, auth);
  EXPECT_EQ(wrong_psk.message(),
            "AUTH: shared key MIC mismatch (wrong pre-shared key, or the IKE_SA_INIT messages "
            "differ between the peers)");
  Bytes changed = octets;
  changed[3] ^= 1;  // e.g. a modified IKE_SA_INIT request
  EXPECT_FALSE(verify_shared_key_auth(prf, v::kAuthPsk, changed, auth).is_ok());
  auth.pop_back();
  EXPECT_EQ(verify_shared_key_auth(prf, v::kAuthPsk, octets, auth).message(),
            "AUTH: shared key MIC is 31 bytes, PRF_HMAC_SHA2_256 gives 32");
}

TEST(Auth, VerifiesPythonSignatures) {
  Pkey p256 = ec_public("P-256", v::kSigP256Public);
  Pkey p384 = ec_public("P-384", v::kSigP384Public);
  const auto& octets = v::k_cbc256_sha256_auth_octets;
  Status st = verify_auth(AuthMethod::kEcdsaSha256P256, p256.get(), octets, v::kSigP256Raw);
  EXPECT_TRUE(st.is_ok()) << st.message();
  st = verify_auth(AuthMethod::kEcdsaSha384P384, p384.get(), octets, v::kSigP384Raw);
  EXPECT_TRUE(st.is_ok()) << st.message();
  st = verify_auth(AuthMethod::kDigitalSignature, p256.get(), octets, v::kSigP256Method14);
  EXPECT_TRUE(st.is_ok()) << st.message();
  st = verify_auth(AuthMethod::kDigitalSignature, p384.get(), octets, v::kSigP384Method14);
  EXPECT_TRUE(st.is_ok()) << st.message();
  // Someone else's key.
  st = verify_auth(AuthMethod::kDigitalSignature, generate("EC", "P-256").get(), octets,
                   v::kSigP256Method14);
  EXPECT_EQ(st.message(), "AUTH method 14: signature does not verify");
}

TEST(Auth, Rfc4754EcdsaP256KnownAnswer) {
  // RFC 4754 8.1: public key (gwx, gwy), message "abc", signature r | s.
  Pkey key =
      ec_public("P-256", hex("04"
                             "2442a5cc0ecd015fa3ca31dc8e2bbc70bf42d60cbca20085e0822cb04235e970"
                             "6fc98bd7e50211a4a27102fa3549df79ebcb4bf246b80945cddfe7d509bbfd7d"));
  const Bytes sig =
      hex("cb28e0999b9c7715fd0a80d8e47a77079716cbbf917dd72e97566ea1c066957c"
          "86fa3bb4e26cad5bf90b7f81899256ce7594bb1ea0c89212748bff3b3d5b0315");
  Status st = verify_auth(AuthMethod::kEcdsaSha256P256, key.get(), test::str("abc"), sig);
  EXPECT_TRUE(st.is_ok()) << st.message();
  EXPECT_FALSE(verify_auth(AuthMethod::kEcdsaSha256P256, key.get(), test::str("abd"), sig).is_ok());
}

TEST(Auth, SignVerifyRoundTrips) {
  Pkey p256 = generate("EC", "P-256"), p384 = generate("EC", "P-384"),
       p521 = generate("EC", "P-521"), rsa = generate("RSA", nullptr, 2048);
  struct Case {
    AuthMethod method;
    EVP_PKEY* key;
    SignatureHash hash;
    size_t fixed_length;  // 0: variable (DER)
  };
  const Case cases[] = {
      {AuthMethod::kRsaSignature, rsa.get(), SignatureHash::kSha256, 256},
      {AuthMethod::kEcdsaSha256P256, p256.get(), SignatureHash::kSha256, 64},
      {AuthMethod::kEcdsaSha384P384, p384.get(), SignatureHash::kSha256, 96},
      {AuthMethod::kEcdsaSha512P521, p521.get(), SignatureHash::kSha256, 132},
      {AuthMethod::kDigitalSignature, p256.get(), SignatureHash::kSha256, 0},
      {AuthMethod::kDigitalSignature, p384.get(), SignatureHash::kSha384, 0},
      {AuthMethod::kDigitalSignature, p521.get(), SignatureHash::kSha512, 0},
      {AuthMethod::kDigitalSignature, rsa.get(), SignatureHash::kSha256, 0},
      {AuthMethod::kDigitalSignature, rsa.get(), SignatureHash::kSha512, 0},
  };
  const Bytes octets = test::str("RealMessage1 | NonceRData | MACedIDForI");
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.method));
    auto auth = sign_auth(c.method, c.key, octets, c.hash);
    ASSERT_TRUE(auth.has_value()) << auth.error();
    if (c.fixed_length) {
      EXPECT_EQ(auth->size(), c.fixed_length);
    }
    Status st = verify_auth(c.method, c.key, octets, *auth);
    EXPECT_TRUE(st.is_ok()) << st.message();
    Bytes other = octets;
    other.back() ^= 1;
    EXPECT_FALSE(verify_auth(c.method, c.key, other, *auth).is_ok());
    Bytes bad = *auth;
    bad.back() ^= 1;
    EXPECT_FALSE(verify_auth(c.method, c.key, octets, bad).is_ok());
  }
}

// RFC 7427: the AlgorithmIdentifier sign_auth writes is the DER OpenSSL
// makes for the same OID (ECDSA: no parameters; RSA: NULL).
TEST(Auth, Method14AlgorithmIdentifiersAreOpenSslsDer) {
  struct Case {
    const char* type;
    const char* curve;
    SignatureHash hash;
    int nid;
    int parameter_type;
  };
  const Case cases[] = {
      {"EC", "P-256", SignatureHash::kSha256, NID_ecdsa_with_SHA256, V_ASN1_UNDEF},
      {"EC", "P-384", SignatureHash::kSha384, NID_ecdsa_with_SHA384, V_ASN1_UNDEF},
      {"EC", "P-256", SignatureHash::kSha512, NID_ecdsa_with_SHA512, V_ASN1_UNDEF},
      {"RSA", nullptr, SignatureHash::kSha256, NID_sha256WithRSAEncryption, V_ASN1_NULL},
      {"RSA", nullptr, SignatureHash::kSha384, NID_sha384WithRSAEncryption, V_ASN1_NULL},
      {"RSA", nullptr, SignatureHash::kSha512, NID_sha512WithRSAEncryption, V_ASN1_NULL},
  };
  Pkey rsa = generate("RSA", nullptr, 2048);
  for (const Case& c : cases) {
    SCOPED_TRACE(OBJ_nid2sn(c.nid));
    X509_ALGOR* alg = X509_ALGOR_new();
    ASSERT_EQ(X509_ALGOR_set0(alg, OBJ_nid2obj(c.nid), c.parameter_type, nullptr), 1);
    unsigned char* der = nullptr;
    const int len = i2d_X509_ALGOR(alg, &der);
    ASSERT_GT(len, 0);
    const Bytes expected(der, der + len);
    OPENSSL_free(der);
    X509_ALGOR_free(alg);
    Pkey ec;
    EVP_PKEY* key = rsa.get();
    if (c.curve) {
      ec = generate("EC", c.curve);
      key = ec.get();
    }
    auto auth = sign_auth(AuthMethod::kDigitalSignature, key, test::str("x"), c.hash);
    ASSERT_TRUE(auth.has_value()) << auth.error();
    ASSERT_GT(auth->size(), expected.size());
    EXPECT_EQ((*auth)[0], expected.size());
    EXPECT_EQ(to_hex(std::span(*auth).subspan(1, expected.size())), to_hex(expected));
  }
}

TEST(Auth, SignatureRefusals) {
  Pkey p256 = generate("EC", "P-256"), rsa = generate("RSA", nullptr, 2048);
  const Bytes octets = test::str("octets");
  auto wrong_curve = sign_auth(AuthMethod::kEcdsaSha384P384, p256.get(), octets);
  ASSERT_FALSE(wrong_curve.has_value());
  EXPECT_EQ(wrong_curve.error(), "AUTH method 10 needs an EC P-384 key");
  auto rsa_with_ec = sign_auth(AuthMethod::kRsaSignature, p256.get(), octets);
  ASSERT_FALSE(rsa_with_ec.has_value());
  EXPECT_EQ(rsa_with_ec.error(), "AUTH method 1 (RSA) needs an RSA key");
  auto psk = sign_auth(AuthMethod::kSharedKeyMic, p256.get(), octets);
  ASSERT_FALSE(psk.has_value());
  EXPECT_EQ(psk.error(), "AUTH method 2 is not a signature method handled here");

  auto ecdsa = sign_auth(AuthMethod::kDigitalSignature, p256.get(), octets);
  ASSERT_TRUE(ecdsa.has_value());
  EXPECT_EQ(verify_auth(AuthMethod::kDigitalSignature, rsa.get(), octets, *ecdsa).message(),
            "AUTH method 14: the peer signed with ECDSA but its key is not EC");
  Bytes unknown = *ecdsa;
  unknown[12] = 0x09;  // ecdsa-with-SHA256 -> an OID we do not know
  EXPECT_EQ(verify_auth(AuthMethod::kDigitalSignature, p256.get(), octets, unknown).message(),
            "AUTH method 14: unsupported signature AlgorithmIdentifier (supported: ECDSA or RSA "
            "PKCS#1 v1.5 with SHA-256/384/512)");
  const Bytes truncated = {0x0c, 0x30, 0x0a};
  EXPECT_EQ(verify_auth(AuthMethod::kDigitalSignature, p256.get(), octets, truncated).message(),
            "AUTH method 14: AUTH data shorter than its AlgorithmIdentifier");
  auto raw = sign_auth(AuthMethod::kEcdsaSha256P256, p256.get(), octets);
  ASSERT_TRUE(raw.has_value());
  raw->pop_back();
  EXPECT_EQ(verify_auth(AuthMethod::kEcdsaSha256P256, p256.get(), octets, *raw).message(),
            "AUTH method 9: ECDSA signature is 63 bytes, expected 64 (r | s)");
}

}  // namespace
}  // namespace tcpsec::ikecrypto

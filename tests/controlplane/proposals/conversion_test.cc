// Negotiated algorithms to controlplane/crypto and v1 types
// (controlplane/proposals/conversion.h).
#include "controlplane/proposals/conversion.h"

#include <gtest/gtest.h>

namespace tcpsec::proposals {
namespace {

IkeAlgorithms ike_algorithms(const std::string& text) {
  auto s = parse_ike_proposal(text);
  EXPECT_TRUE(s) << s.error();
  IkeAlgorithms a;
  a.encryption = s->encryption.front();
  a.integrity = s->integrity.empty() ? ike::IntegId::kNone : s->integrity.front();
  a.prf = s->prf.front();
  a.dh = s->dh.front();
  return a;
}

EspAlgorithms esp_algorithms(const std::string& text) {
  auto s = parse_esp_proposal(text);
  EXPECT_TRUE(s) << s.error();
  EspAlgorithms a;
  a.encryption = s->encryption.front();
  a.integrity = s->integrity.empty() ? ike::IntegId::kNone : s->integrity.front();
  return a;
}

TEST(ToIkecrypto, IkeSuites) {
  auto t = to_ikecrypto(ike_algorithms("aes128-sha256-ecp256"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->prf, ikecrypto::PrfId::kHmacSha256);
  EXPECT_EQ(t->encryption.id, ikecrypto::EncryptionId::kAesCbc);
  EXPECT_EQ(t->encryption.key_bits, 128);
  EXPECT_EQ(t->integrity, ikecrypto::IntegrityId::kHmacSha256_128);
  auto lengths = ikecrypto::ike_sa_key_lengths(*t);
  ASSERT_TRUE(lengths);
  EXPECT_EQ(lengths->sk_e, 16u);

  t = to_ikecrypto(ike_algorithms("aes256gcm16-prfsha384-ecp384"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->encryption.id, ikecrypto::EncryptionId::kAesGcm16);
  EXPECT_EQ(t->integrity, ikecrypto::IntegrityId::kNone);
  EXPECT_EQ(ikecrypto::ike_sa_key_lengths(*t)->sk_e, 36u);

  t = to_ikecrypto(ike_algorithms("chacha20poly1305-prfsha512-x25519"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->prf, ikecrypto::PrfId::kHmacSha512);

  auto g = to_ikecrypto(ike::DhGroup::kCurve25519);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, ikecrypto::DhGroup::kCurve25519);
  EXPECT_EQ(to_ikecrypto(ike::DhGroup::kModp1024).error(), "DH group modp1024 is not supported");
  EXPECT_EQ(to_ikecrypto(ike::PrfId::kAes128Xcbc).error(), "PRF prfaesxcbc is not supported");
}

TEST(ToIkecrypto, ChildSa) {
  auto t = to_ikecrypto(esp_algorithms("aes256-sha1"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->integrity, ikecrypto::IntegrityId::kHmacSha1_96);
  EXPECT_EQ(ikecrypto::child_sa_key_lengths(*t)->encryption, 32u);
  t = to_ikecrypto(esp_algorithms("aes128gcm16"));
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(ikecrypto::child_sa_key_lengths(*t)->encryption, 20u);
  auto null = to_ikecrypto(esp_algorithms("null-sha256"));
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error(),
            "ESP proposal null-sha256: NULL encryption has no key derivation in "
            "controlplane/crypto yet");
}

TEST(ToEspAlgorithm, EveryDataplaneAlgorithm) {
  struct Case {
    const char* text;
    v1::EspAlgorithm alg;
  } cases[] = {
      {"aes128gcm16", v1::ESP_ALGORITHM_AES_GCM_128},
      {"aes256gcm16", v1::ESP_ALGORITHM_AES_GCM_256},
      {"chacha20poly1305", v1::ESP_ALGORITHM_CHACHA20_POLY1305},
      {"aes128-sha256", v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256},
      {"aes256-sha256", v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA256},
      {"aes128-sha1", v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA1},
      {"aes256-sha1", v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1},
      {"null-sha256", v1::ESP_ALGORITHM_NULL_HMAC_SHA256},
      {"null-sha1", v1::ESP_ALGORITHM_NULL_HMAC_SHA1},
  };
  for (const auto& c : cases) {
    auto a = to_esp_algorithm(esp_algorithms(c.text));
    ASSERT_TRUE(a) << c.text << ": " << a.error();
    EXPECT_EQ(*a, c.alg) << c.text;
  }
  for (const char* missing : {"aes192-sha256", "aes128-sha384", "aes192gcm16", "null-sha512"}) {
    auto a = to_esp_algorithm(esp_algorithms(missing));
    ASSERT_FALSE(a) << missing;
    EXPECT_EQ(a.error().rfind(std::string("the dataplane has no ESP algorithm ") + missing, 0), 0u)
        << a.error();
  }
}

TEST(CheckInstallable, EveryCombination) {
  EXPECT_TRUE(check_installable(*parse_esp_proposal("aes128-aes256-sha1-sha256-ecp256")));
  EXPECT_TRUE(check_installable(*parse_esp_proposal("null-sha256")));
  auto bad = check_installable(*parse_esp_proposal("aes128-sha256-sha384"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.message().rfind("the dataplane has no ESP algorithm aes128-sha384", 0), 0u)
      << bad.message();
  EXPECT_TRUE(check_supported(*parse_ike_proposal("aes128-aes192-aes256-sha1-sha512-modp2048")));
  EXPECT_TRUE(check_supported(*parse_ike_proposal("aes192gcm16-prfsha256-ecp256")));
}

}  // namespace
}  // namespace tcpsec::proposals

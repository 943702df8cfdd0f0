// IKE SA and Child SA key derivation (RFC 7296 2.14, 2.17, 2.18) against the
// Python reference (vectors/make_ike_crypto_vectors.py), and the checks on
// transform combinations.
#include <gtest/gtest.h>

#include <cstring>

#include "controlplane/crypto/ike_keys.h"
#include "tests/controlplane/crypto/test_bytes.h"
#include "tests/controlplane/crypto/vectors/ike_crypto_vectors.h"

namespace tcpsec::ikecrypto {
namespace {

using test::to_hex;
namespace v = vectors;

IkeSaTransforms transforms_of(const v::IkeSaVector& vec) {
  return {static_cast<PrfId>(vec.prf),
          {static_cast<EncryptionId>(vec.encr), vec.key_bits},
          static_cast<IntegrityId>(vec.integ)};
}

const v::IkeSaVector& ike_vector(const char* name) {
  for (const auto& vec : v::kIkeSaVectors) {
    if (std::strcmp(vec.name, name) == 0) return vec;
  }
  ADD_FAILURE() << "no vector " << name;
  return v::kIkeSaVectors[0];
}

void expect_keys(const IkeSaKeys& k, std::span<const uint8_t> d, std::span<const uint8_t> ai,
                 std::span<const uint8_t> ar, std::span<const uint8_t> ei,
                 std::span<const uint8_t> er, std::span<const uint8_t> pi,
                 std::span<const uint8_t> pr) {
  EXPECT_EQ(to_hex(k.sk_d), to_hex(d));
  EXPECT_EQ(to_hex(k.sk_ai), to_hex(ai));
  EXPECT_EQ(to_hex(k.sk_ar), to_hex(ar));
  EXPECT_EQ(to_hex(k.sk_ei), to_hex(ei));
  EXPECT_EQ(to_hex(k.sk_er), to_hex(er));
  EXPECT_EQ(to_hex(k.sk_pi), to_hex(pi));
  EXPECT_EQ(to_hex(k.sk_pr), to_hex(pr));
}

TEST(IkeKeys, IkeSaKeysMatchPythonReference) {
  for (const v::IkeSaVector& vec : v::kIkeSaVectors) {
    SCOPED_TRACE(vec.name);
    const IkeSaTransforms t = transforms_of(vec);
    auto seed = skeyseed(t.prf, v::kNi, v::kNr, vec.shared_secret);
    ASSERT_TRUE(seed.has_value()) << seed.error();
    EXPECT_EQ(to_hex(*seed), to_hex(vec.skeyseed));
    auto keys = derive_ike_sa_keys(t, *seed, v::kNi, v::kNr, v::kSpiI, v::kSpiR);
    ASSERT_TRUE(keys.has_value()) << keys.error();
    expect_keys(*keys, vec.sk_d, vec.sk_ai, vec.sk_ar, vec.sk_ei, vec.sk_er, vec.sk_pi, vec.sk_pr);
  }
}

TEST(IkeKeys, AeadKeysIncludeTheSaltAndNoIntegrityKeys) {
  auto gcm128 = ike_sa_key_lengths({PrfId::kHmacSha256, {EncryptionId::kAesGcm16, 128}});
  ASSERT_TRUE(gcm128.has_value());
  EXPECT_EQ(gcm128->sk_e, 20u);  // RFC 5282 7.1
  EXPECT_EQ(gcm128->sk_a, 0u);
  EXPECT_EQ(gcm128->sk_d, 32u);
  auto cbc = ike_sa_key_lengths(
      {PrfId::kHmacSha384, {EncryptionId::kAesCbc, 256}, IntegrityId::kHmacSha384_192});
  ASSERT_TRUE(cbc.has_value());
  EXPECT_EQ(cbc->sk_e, 32u);
  EXPECT_EQ(cbc->sk_a, 48u);
  EXPECT_EQ(cbc->sk_d, 48u);
}

TEST(IkeKeys, RekeyedIkeSaMatchesPythonReference) {
  // Old SA: cbc256_sha256 (PRF SHA-256, which makes SKEYSEED); new SA:
  // AES-GCM-256 with PRF SHA-384 (which makes the keys).
  const v::IkeSaVector& old_sa = ike_vector("cbc256_sha256");
  auto seed =
      rekey_skeyseed(PrfId::kHmacSha256, old_sa.sk_d, v::kEcp384Shared, v::kRekeyNi, v::kRekeyNr);
  ASSERT_TRUE(seed.has_value()) << seed.error();
  EXPECT_EQ(to_hex(*seed), to_hex(v::kRekeySkeyseed));
  auto keys = derive_ike_sa_keys({PrfId::kHmacSha384, {EncryptionId::kAesGcm16, 256}}, *seed,
                                 v::kRekeyNi, v::kRekeyNr, v::kRekeySpiI, v::kRekeySpiR);
  ASSERT_TRUE(keys.has_value()) << keys.error();
  expect_keys(*keys, v::kRekey_sk_d, v::kRekey_sk_ai, v::kRekey_sk_ar, v::kRekey_sk_ei,
              v::kRekey_sk_er, v::kRekey_sk_pi, v::kRekey_sk_pr);
}

TEST(IkeKeys, ChildSaKeymatMatchesPythonReference) {
  const v::IkeSaVector& ike = ike_vector("cbc256_sha256");
  for (const v::ChildSaVector& vec : v::kChildSaVectors) {
    SCOPED_TRACE(vec.name);
    ChildSaTransforms t{{static_cast<EncryptionId>(vec.encr), vec.key_bits},
                        static_cast<IntegrityId>(vec.integ)};
    auto keys = derive_child_sa_keys(PrfId::kHmacSha256, ike.sk_d, t, v::kChildNi, v::kChildNr,
                                     vec.pfs_shared_secret);
    ASSERT_TRUE(keys.has_value()) << keys.error();
    EXPECT_EQ(to_hex(keys->encryption_i2r), to_hex(vec.encryption_i2r));
    EXPECT_EQ(to_hex(keys->integrity_i2r), to_hex(vec.integrity_i2r));
    EXPECT_EQ(to_hex(keys->encryption_r2i), to_hex(vec.encryption_r2i));
    EXPECT_EQ(to_hex(keys->integrity_r2i), to_hex(vec.integrity_r2i));
  }
}

TEST(IkeKeys, PfsChangesTheChildKeys) {
  const v::IkeSaVector& ike = ike_vector("cbc256_sha256");
  ChildSaTransforms t{{EncryptionId::kAesGcm16, 256}};
  auto plain = derive_child_sa_keys(PrfId::kHmacSha256, ike.sk_d, t, v::kChildNi, v::kChildNr);
  auto pfs = derive_child_sa_keys(PrfId::kHmacSha256, ike.sk_d, t, v::kChildNi, v::kChildNr,
                                  v::kX25519Shared);
  ASSERT_TRUE(plain.has_value() && pfs.has_value());
  EXPECT_EQ(plain->encryption_i2r.size(), 36u);  // key + salt (RFC 4106 8.1)
  EXPECT_TRUE(plain->integrity_i2r.empty());
  EXPECT_NE(to_hex(plain->encryption_i2r), to_hex(pfs->encryption_i2r));
}

TEST(IkeKeys, RejectsBadTransformCombinations) {
  auto aead_with_integ = ike_sa_key_lengths(
      {PrfId::kHmacSha256, {EncryptionId::kAesGcm16, 128}, IntegrityId::kHmacSha256_128});
  ASSERT_FALSE(aead_with_integ.has_value());
  EXPECT_EQ(aead_with_integ.error(),
            "IKE SA: ENCR_AES_GCM_16-128 is an AEAD cipher: integrity transform must be NONE, "
            "not AUTH_HMAC_SHA2_256_128");
  auto cbc_alone = child_sa_key_lengths({{EncryptionId::kAesCbc, 128}});
  ASSERT_FALSE(cbc_alone.has_value());
  EXPECT_EQ(cbc_alone.error(), "Child SA: ENCR_AES_CBC-128 needs an integrity transform");
  auto bad_prf = ike_sa_key_lengths({static_cast<PrfId>(1), {EncryptionId::kAesGcm16, 128}});
  ASSERT_FALSE(bad_prf.has_value());
  EXPECT_EQ(bad_prf.error(), "unsupported PRF transform 1");
}

TEST(IkeKeys, RejectsBadSpis) {
  const uint8_t seed[32] = {};
  const uint8_t spi[8] = {}, short_spi[4] = {};
  auto keys = derive_ike_sa_keys({PrfId::kHmacSha256, {EncryptionId::kAesGcm16, 128}}, seed, v::kNi,
                                 v::kNr, spi, short_spi);
  ASSERT_FALSE(keys.has_value());
  EXPECT_EQ(keys.error(), "IKE SA keys: SPIs must be 8 bytes each, got 8 and 4");
}

}  // namespace
}  // namespace tcpsec::ikecrypto

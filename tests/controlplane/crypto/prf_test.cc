// PRFs against RFC 4231 (HMAC-SHA-256/384/512) and RFC 2202 (HMAC-SHA-1),
// prf+ against its definition (RFC 7296 2.13), and the transform table.
#include <gtest/gtest.h>

#include "controlplane/crypto/prf.h"
#include "tests/controlplane/crypto/test_bytes.h"

namespace tcpsec::ikecrypto {
namespace {

using test::Bytes;
using test::hex;
using test::str;
using test::to_hex;

std::string prf_hex(PrfId id, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  auto out = prf(id, key, data);
  EXPECT_TRUE(out.has_value()) << (out ? "" : out.error());
  return out ? to_hex(*out) : "";
}

TEST(Prf, Rfc4231AndRfc2202) {
  const Bytes key1(20, 0x0b);
  const Bytes data1 = str("Hi There");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha256, key1, data1),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha384, key1, data1),
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
            "faea9ea9076ede7f4af152e8b2fa9cb6");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha512, key1, data1),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha1, key1, data1), "b617318655057264e28bc0b6fb378c8ef146be00");

  const Bytes key2 = str("Jefe");
  const Bytes data2 = str("what do ya want for nothing?");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha256, key2, data2),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha384, key2, data2),
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
            "8e2240ca5e69e2c78b3239ecfab21649");
  EXPECT_EQ(prf_hex(PrfId::kHmacSha512, key2, data2),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");

  // Test case 6: a key longer than the block is hashed first (IKE nonces
  // as a PRF key can be up to 512 bytes).
  EXPECT_EQ(prf_hex(PrfId::kHmacSha256, Bytes(131, 0xaa),
                    str("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Prf, PartsAreConcatenated) {
  const Bytes key = str("Jefe");
  const Bytes a = str("what do ya "), b = str("want for nothing?"), empty;
  auto out = prf(PrfId::kHmacSha256, key, ByteParts{a, empty, b});
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(to_hex(*out), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Prf, PrfPlusFollowsItsDefinition) {
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f");
  const Bytes seed = str("seed bytes");
  for (PrfId id : {PrfId::kHmacSha1, PrfId::kHmacSha256, PrfId::kHmacSha384, PrfId::kHmacSha512}) {
    SCOPED_TRACE(to_string(id));
    // T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), T3 = ...
    Bytes expected, t;
    for (uint8_t n = 1; n <= 3; ++n) {
      Bytes in = test::concat(t, seed);
      in.push_back(n);
      auto tn = prf(id, key, in);
      ASSERT_TRUE(tn.has_value());
      t.assign(tn->begin(), tn->end());
      expected.insert(expected.end(), t.begin(), t.end());
    }
    const size_t len = 2 * prf_length(id) + 7;  // not a multiple of the block
    auto out = prf_plus(id, key, seed, len);
    ASSERT_TRUE(out.has_value()) << out.error();
    ASSERT_EQ(out->size(), len);
    EXPECT_EQ(to_hex(*out), to_hex(std::span(expected).first(len)));
    // A shorter request is a prefix of a longer one.
    auto shorter = prf_plus(id, key, seed, 5);
    ASSERT_TRUE(shorter.has_value());
    EXPECT_EQ(to_hex(*shorter), to_hex(std::span(expected).first(5)));
  }
}

TEST(Prf, PrfPlusLengthLimit) {
  const Bytes key(32, 1);
  auto max = prf_plus(PrfId::kHmacSha256, key, Bytes{}, 255 * 32);
  ASSERT_TRUE(max.has_value()) << max.error();
  EXPECT_EQ(max->size(), 255u * 32);
  auto over = prf_plus(PrfId::kHmacSha256, key, Bytes{}, 255 * 32 + 1);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error(), "prf+ with PRF_HMAC_SHA2_256 yields at most 8160 bytes, 8161 requested");
}

TEST(Prf, RejectsUnsupportedPrf) {
  auto out = prf(static_cast<PrfId>(4), Bytes{1}, Bytes{2});  // PRF_AES128_XCBC
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "unsupported PRF transform 4");
  EXPECT_FALSE(prf_plus(static_cast<PrfId>(4), Bytes{1}, Bytes{2}, 16).has_value());
}

TEST(Transforms, LengthsFromTheRfcs) {
  auto gcm = encryption_properties({EncryptionId::kAesGcm16, 256});
  ASSERT_TRUE(gcm.has_value());
  EXPECT_TRUE(gcm->aead);
  EXPECT_EQ(gcm->keymat_length(), 36u);  // RFC 5282 7.1: key + 4-byte salt
  EXPECT_EQ(gcm->iv_length, 8u);
  EXPECT_EQ(gcm->icv_length, 16u);
  auto cbc = encryption_properties({EncryptionId::kAesCbc, 128});
  ASSERT_TRUE(cbc.has_value());
  EXPECT_EQ(cbc->keymat_length(), 16u);
  EXPECT_EQ(cbc->iv_length, 16u);
  auto chacha = encryption_properties({EncryptionId::kChaCha20Poly1305, 0});
  ASSERT_TRUE(chacha.has_value());
  EXPECT_EQ(chacha->keymat_length(), 36u);  // RFC 7634 2
  struct {
    IntegrityId id;
    size_t key, icv;
  } const integ[] = {{IntegrityId::kHmacSha1_96, 20, 12},
                     {IntegrityId::kHmacSha256_128, 32, 16},
                     {IntegrityId::kHmacSha384_192, 48, 24},
                     {IntegrityId::kHmacSha512_256, 64, 32}};
  for (const auto& i : integ) {
    auto p = integrity_properties(i.id);
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->key_length, i.key);
    EXPECT_EQ(p->icv_length, i.icv);
  }
  auto bad_bits = encryption_properties({EncryptionId::kAesGcm16, 64});
  ASSERT_FALSE(bad_bits.has_value());
  EXPECT_EQ(bad_bits.error(), "ENCR_AES_GCM_16-64: unsupported key length 64 bits");
  auto des = encryption_properties({static_cast<EncryptionId>(3), 0});
  ASSERT_FALSE(des.has_value());
  EXPECT_EQ(des.error(), "unsupported encryption transform 3");
  EXPECT_FALSE(integrity_properties(static_cast<IntegrityId>(5)).has_value());
}

}  // namespace
}  // namespace tcpsec::ikecrypto

// SK / SKF payload protection: byte-for-byte against the Python reference
// (fixed IVs), opening Python-protected messages (odd padding, non-ESP
// marker, SKF), RFC 3602 AES-CBC known answers through the SK layout, round
// trips for every transform and inner length 0..300, tampering, truncation
// and padding errors, and the caller-facing layout checks.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <string>

#include "controlplane/crypto/hmac.h"
#include "controlplane/crypto/sk_cipher.h"
#include "tests/controlplane/crypto/test_bytes.h"
#include "tests/controlplane/crypto/vectors/ike_crypto_vectors.h"

namespace tcpsec::ikecrypto {
namespace {

using test::Bytes;
using test::hex;
using test::to_hex;
namespace v = vectors;

struct Suite {
  EncryptionTransform encryption;
  IntegrityId integrity;
};

const Suite kSuites[] = {
    {{EncryptionId::kAesCbc, 128}, IntegrityId::kHmacSha1_96},
    {{EncryptionId::kAesCbc, 128}, IntegrityId::kHmacSha256_128},
    {{EncryptionId::kAesCbc, 192}, IntegrityId::kHmacSha384_192},
    {{EncryptionId::kAesCbc, 256}, IntegrityId::kHmacSha256_128},
    {{EncryptionId::kAesCbc, 256}, IntegrityId::kHmacSha384_192},
    {{EncryptionId::kAesCbc, 256}, IntegrityId::kHmacSha512_256},
    {{EncryptionId::kAesGcm16, 128}, IntegrityId::kNone},
    {{EncryptionId::kAesGcm16, 192}, IntegrityId::kNone},
    {{EncryptionId::kAesGcm16, 256}, IntegrityId::kNone},
    {{EncryptionId::kChaCha20Poly1305, 0}, IntegrityId::kNone},
};

std::string name(const Suite& s) {
  return to_string(s.encryption) + " + " + to_string(s.integrity);
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  if (n) {
    EXPECT_EQ(RAND_bytes(b.data(), static_cast<int>(n)), 1);
  }
  return b;
}

SkCipher make_cipher(const Suite& s, Bytes* enc_key = nullptr, Bytes* auth_key = nullptr) {
  auto e = encryption_properties(s.encryption);
  auto i = integrity_properties(s.integrity);
  EXPECT_TRUE(e.has_value() && i.has_value());
  Bytes ek = random_bytes(e->keymat_length()), ak = random_bytes(i->key_length);
  if (enc_key) *enc_key = ek;
  if (auth_key) *auth_key = ak;
  auto c = SkCipher::create(s.encryption, s.integrity, ek, ak);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error());
  return std::move(*c);
}

void put_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// An IKE_AUTH message for `body` bytes of SK body after `prefix` bytes (a
// non-ESP marker): IKE header and SK header with their lengths final, the
// body zero.
Bytes message_for(size_t body, size_t prefix = 0, size_t sk_header = kSkHeaderLength) {
  Bytes m(prefix + kIkeHeaderLength + sk_header + body, 0);
  uint8_t* ike = m.data() + prefix;
  for (int i = 0; i < 16; ++i) ike[i] = static_cast<uint8_t>(0x10 + i);  // SPIs
  ike[16] = sk_header == kSkHeaderLength ? 46 : 53;                      // SK / SKF
  ike[17] = 0x20;                                                        // version 2.0
  ike[18] = 35;                                                          // IKE_AUTH
  ike[19] = 0x08;                                                        // Initiator
  put_be32(ike + 20, 1);                                                 // Message ID
  put_be32(ike + 24, static_cast<uint32_t>(m.size() - prefix));
  uint8_t* sk = ike + kIkeHeaderLength;
  sk[0] = 35;  // first inner payload: IDi
  sk[2] = static_cast<uint8_t>((sk_header + body) >> 8);
  sk[3] = static_cast<uint8_t>(sk_header + body);
  if (sk_header == kSkfHeaderLength) sk[5] = sk[7] = 1;  // fragment 1 of 1
  return m;
}

SkLayout layout_for(size_t prefix = 0, size_t sk_header = kSkHeaderLength) {
  return SkLayout{prefix, prefix + kIkeHeaderLength, sk_header};
}

const v::IkeSaVector& ike_vector(const char* vector_name) {
  for (const auto& vec : v::kIkeSaVectors) {
    if (std::strcmp(vec.name, vector_name) == 0) return vec;
  }
  ADD_FAILURE() << "no vector " << vector_name;
  return v::kIkeSaVectors[0];
}

Suite suite_of(const v::IkeSaVector& vec) {
  return {{static_cast<EncryptionId>(vec.encr), vec.key_bits}, static_cast<IntegrityId>(vec.integ)};
}

TEST(SkCipher, ProtectMatchesPythonReference) {
  for (const v::SkProtectVector& vec : v::kSkProtectVectors) {
    SCOPED_TRACE(vec.name);
    const v::IkeSaVector& ike = ike_vector(vec.name);
    const Suite s = suite_of(ike);
    auto c = SkCipher::create(s.encryption, s.integrity, ike.sk_ei, ike.sk_ai);
    ASSERT_TRUE(c.has_value()) << c.error();
    const size_t body = c->body_length(std::size(v::kSkInner));
    ASSERT_EQ(vec.header.size() + body, vec.message.size());
    Bytes m(vec.header.begin(), vec.header.end());
    m.resize(m.size() + body);
    Status st = c->protect_with_iv(m, SkLayout{}, v::kSkInner, vec.iv);
    ASSERT_TRUE(st.is_ok()) << st.message();
    EXPECT_EQ(to_hex(m), to_hex(vec.message));
    // And it opens with the same key (the peer's inbound direction).
    auto inner = c->unprotect(m, SkLayout{});
    ASSERT_TRUE(inner.has_value()) << inner.error();
    EXPECT_EQ(to_hex(*inner), to_hex(v::kSkInner));
  }
}

TEST(SkCipher, OpensPythonProtectedMessages) {
  for (const v::SkOpenVector& vec : v::kSkOpenVectors) {
    SCOPED_TRACE(vec.name);
    const v::IkeSaVector& ike = ike_vector(vec.name);
    const Suite s = suite_of(ike);
    auto c = SkCipher::create(s.encryption, s.integrity, ike.sk_er, ike.sk_ar);
    ASSERT_TRUE(c.has_value()) << c.error();
    Bytes m(vec.message.begin(), vec.message.end());
    auto inner = c->unprotect(
        m, layout_for(vec.ike_header_offset, vec.skf ? kSkfHeaderLength : kSkHeaderLength));
    ASSERT_TRUE(inner.has_value()) << inner.error();
    EXPECT_EQ(to_hex(*inner), to_hex(v::kSkOpenInner));
  }
}

// RFC 3602 section 4, cases 2 and 3 (AES-128-CBC), as SK payload
// ciphertext: the decrypted blocks must be the RFC's plaintext. The ICV is
// HMAC-SHA-256-128 over the message (HMAC itself is checked against RFC 4231
// in prf_test.cc).
TEST(SkCipher, Rfc3602CbcKnownAnswers) {
  struct Case {
    const char *key, *iv, *ciphertext;
    Bytes plaintext;
    size_t inner_length;  // plaintext minus padding and pad length (last byte)
  };
  const Case cases[] = {
      {"c286696d887c9aa0611bbb3e2025a45a", "562e17996d093d28ddb3ba695a2e6f58",
       "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
       hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), 0},
      {"6c3ea0477630ce21a2ce334aa746c2cd", "c782dc4c098c66cbd9cd27d825682c81",
       "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5021c19216bad525c8579695d83"
       "ba2684",
       test::str("This is a 48-byte message (exactly 3 AES blocks)"), 48 - 1 - ')'},
  };
  const Bytes auth_key(32, 0x42);
  for (const Case& k : cases) {
    auto c = SkCipher::create({EncryptionId::kAesCbc, 128}, IntegrityId::kHmacSha256_128,
                              hex(k.key), auth_key);
    ASSERT_TRUE(c.has_value()) << c.error();
    const Bytes iv = hex(k.iv), ct = hex(k.ciphertext);
    Bytes m = message_for(iv.size() + ct.size() + 16);
    uint8_t* body = m.data() + kIkeHeaderLength + kSkHeaderLength;
    std::memcpy(body, iv.data(), iv.size());
    std::memcpy(body + iv.size(), ct.data(), ct.size());
    auto mac = hmac("SHA256", auth_key, ByteParts{std::span(m).first(m.size() - 16)});
    ASSERT_TRUE(mac.has_value());
    std::memcpy(m.data() + m.size() - 16, mac->data(), 16);
    auto inner = c->unprotect(m, SkLayout{});
    ASSERT_TRUE(inner.has_value()) << inner.error();
    EXPECT_EQ(inner->size(), k.inner_length);
    EXPECT_EQ(to_hex(std::span(body + iv.size(), ct.size())), to_hex(k.plaintext));
  }
}

TEST(SkCipher, RoundTripsEveryTransformAndLength) {
  for (const Suite& s : kSuites) {
    SCOPED_TRACE(name(s));
    SkCipher c = make_cipher(s);
    for (size_t n = 0; n <= 300; ++n) {
      const Bytes inner = random_bytes(n);
      const size_t body = c.body_length(n);
      ASSERT_EQ((body - c.iv_length() - c.icv_length()) % c.block_length(), 0u);
      ASSERT_GE(body - c.iv_length() - c.icv_length(), n + 1);
      ASSERT_LT(body - c.iv_length() - c.icv_length(), n + 1 + c.block_length());
      Bytes m = message_for(body);
      Status st = c.protect(m, SkLayout{}, inner);
      ASSERT_TRUE(st.is_ok()) << n << ": " << st.message();
      auto out = c.unprotect(m, SkLayout{});
      ASSERT_TRUE(out.has_value()) << n << ": " << out.error();
      ASSERT_EQ(to_hex(*out), to_hex(inner)) << n;
    }
  }
}

TEST(SkCipher, RoundTripsSkfAfterNonEspMarker) {
  for (const Suite& s : kSuites) {
    SCOPED_TRACE(name(s));
    SkCipher c = make_cipher(s);
    const Bytes inner = random_bytes(77);
    Bytes m = message_for(c.body_length(inner.size()), 4, kSkfHeaderLength);
    const SkLayout layout = layout_for(4, kSkfHeaderLength);
    ASSERT_TRUE(c.protect(m, layout, inner).is_ok());
    EXPECT_EQ(to_hex(std::span(m).first(4)), "00000000");  // the marker is left alone
    auto out = c.unprotect(m, layout);
    ASSERT_TRUE(out.has_value()) << out.error();
    EXPECT_EQ(to_hex(*out), to_hex(inner));
    // The Fragment Number is authenticated.
    m[4 + kIkeHeaderLength + 5] = 2;
    auto tampered = c.unprotect(m, layout);
    ASSERT_FALSE(tampered.has_value());
    EXPECT_EQ(tampered.error(), "SKF payload: ICV mismatch");
  }
}

TEST(SkCipher, TamperingAnyByteFailsTheIcv) {
  for (const Suite& s : kSuites) {
    SCOPED_TRACE(name(s));
    SkCipher c = make_cipher(s);
    const Bytes inner = random_bytes(45);
    Bytes m = message_for(c.body_length(inner.size()));
    ASSERT_TRUE(c.protect(m, SkLayout{}, inner).is_ok());
    for (size_t i = 0; i < m.size(); ++i) {  // header (AAD), IV, ciphertext, ICV
      Bytes t = m;
      t[i] ^= 0x01;
      auto out = c.unprotect(t, SkLayout{});
      ASSERT_FALSE(out.has_value()) << "byte " << i;
      ASSERT_EQ(out.error(), "SK payload: ICV mismatch") << "byte " << i;
      ASSERT_EQ(to_hex(t), to_hex([&] {
                  Bytes u = m;
                  u[i] ^= 0x01;
                  return u;
                }()))
          << "a refused message is left as it was";
    }
  }
}

TEST(SkCipher, WrongKeyFailsTheIcv) {
  for (const Suite& s : kSuites) {
    SCOPED_TRACE(name(s));
    SkCipher a = make_cipher(s), b = make_cipher(s);
    const Bytes inner = random_bytes(20);
    Bytes m = message_for(a.body_length(inner.size()));
    ASSERT_TRUE(a.protect(m, SkLayout{}, inner).is_ok());
    auto out = b.unprotect(m, SkLayout{});
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error(), "SK payload: ICV mismatch");
  }
}

TEST(SkCipher, RejectsTruncatedBodies) {
  SkCipher cbc = make_cipher(kSuites[3]);  // AES-CBC-256 + SHA-256-128: IV 16, ICV 16
  Bytes short_body = message_for(31);
  auto out = cbc.unprotect(short_body, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "SK payload: body of 31 bytes is shorter than IV (16) + ICV (16)");
  Bytes empty_text = message_for(32);
  out = cbc.unprotect(empty_text, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "SK payload: no ciphertext between IV and ICV (not even the pad length)");
  Bytes not_block = message_for(32 + 17);
  out = cbc.unprotect(not_block, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(),
            "SK payload: ciphertext of 17 bytes is not a multiple of the 16-byte cipher block");

  SkCipher gcm = make_cipher(kSuites[6]);  // IV 8, ICV 16
  Bytes gcm_short = message_for(23);
  out = gcm.unprotect(gcm_short, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "SK payload: body of 23 bytes is shorter than IV (8) + ICV (16)");
  // A protected message cut short fails the ICV (or the length checks).
  const Bytes inner = random_bytes(40);
  Bytes m = message_for(gcm.body_length(inner.size()));
  ASSERT_TRUE(gcm.protect(m, SkLayout{}, inner).is_ok());
  m.pop_back();
  out = gcm.unprotect(m, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "SK payload: ICV mismatch");
  Bytes no_body = message_for(0);
  no_body.resize(kIkeHeaderLength + 2);
  out = gcm.unprotect(no_body, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(),
            "SK payload: header at offset 28 runs past the end of the 30-byte message");
}

// A GCM SK body with the caller's plaintext (padding included), sealed with
// OpenSSL directly, to reach the pad length check behind a valid ICV.
Bytes gcm_message(const Bytes& keymat, const Bytes& plaintext) {
  Bytes m = message_for(8 + plaintext.size() + 16);
  uint8_t* body = m.data() + kIkeHeaderLength + kSkHeaderLength;
  const Bytes iv = hex("0001020304050607");
  std::memcpy(body, iv.data(), 8);
  uint8_t nonce[12];
  std::memcpy(nonce, keymat.data() + 16, 4);
  std::memcpy(nonce + 4, iv.data(), 8);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, keymat.data(), nonce), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, m.data(),
                              static_cast<int>(kIkeHeaderLength + kSkHeaderLength)),
            1);
  EXPECT_EQ(
      EVP_EncryptUpdate(ctx, body + 8, &len, plaintext.data(), static_cast<int>(plaintext.size())),
      1);
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, body + 8 + len, &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, body + 8 + plaintext.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return m;
}

TEST(SkCipher, RejectsPadLengthBeyondThePlaintext) {
  Bytes keymat;
  SkCipher c = make_cipher(kSuites[6], &keymat);  // AES-GCM-128
  Bytes plaintext(16, 0);
  plaintext.back() = 40;
  Bytes m = gcm_message(keymat, plaintext);
  auto out = c.unprotect(m, SkLayout{});
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error(), "SK payload: pad length 40 exceeds plaintext 15");
  plaintext.back() = 15;  // all padding: valid, no inner payloads
  Bytes ok = gcm_message(keymat, plaintext);
  out = c.unprotect(ok, SkLayout{});
  ASSERT_TRUE(out.has_value()) << out.error();
  EXPECT_TRUE(out->empty());
}

TEST(SkCipher, ProtectChecksTheCallersLengths) {
  SkCipher c = make_cipher(kSuites[3]);
  const Bytes inner = random_bytes(10);
  const size_t body = c.body_length(inner.size());
  EXPECT_EQ(body, 16u + 16u + 16u);

  Bytes too_long = message_for(body + 1);
  Status st = c.protect(too_long, SkLayout{}, inner);
  EXPECT_EQ(st.message(),
            "SK payload: the message must end 48 bytes after the SK payload header for 10 bytes "
            "of inner payloads, not 49");
  Bytes bad_ike_length = message_for(body);
  bad_ike_length[27] += 1;
  st = c.protect(bad_ike_length, SkLayout{}, inner);
  EXPECT_EQ(st.message(), "SK payload: IKE header Length is 81, the message is 80 bytes");
  Bytes bad_payload_length = message_for(body);
  bad_payload_length[kIkeHeaderLength + 3] -= 1;
  st = c.protect(bad_payload_length, SkLayout{}, inner);
  EXPECT_EQ(st.message(), "SK payload: Payload Length is 51, expected 52");
  Bytes m = message_for(body);
  st = c.protect(m, SkLayout{0, 10, kSkHeaderLength}, inner);
  EXPECT_EQ(st.message(), "SK payload: header at offset 10 lies inside the IKE header at 0");
  st = c.protect_with_iv(m, SkLayout{}, inner, Bytes(8, 0));
  EXPECT_EQ(st.message(), "SK payload: IV must be 16 bytes");
}

TEST(SkCipher, ProtectsInnerPayloadsSerializedInPlace) {
  for (const Suite& s : kSuites) {
    SCOPED_TRACE(name(s));
    SkCipher c = make_cipher(s);
    const Bytes inner = random_bytes(50);
    Bytes m = message_for(c.body_length(inner.size()));
    // The codec wrote the inner payloads right after the SK header, where
    // the IV goes: protect() moves them.
    const size_t body = kIkeHeaderLength + kSkHeaderLength;
    std::memcpy(m.data() + body, inner.data(), inner.size());
    ASSERT_TRUE(c.protect(m, SkLayout{}, std::span(m).subspan(body, inner.size())).is_ok());
    auto out = c.unprotect(m, SkLayout{});
    ASSERT_TRUE(out.has_value()) << out.error();
    EXPECT_EQ(to_hex(*out), to_hex(inner));
  }
}

TEST(SkCipher, AeadIvsCountUpAndCbcIvsDiffer) {
  for (const Suite& s : {kSuites[3], kSuites[8]}) {
    SCOPED_TRACE(name(s));
    SkCipher c = make_cipher(s);
    Bytes a = message_for(c.body_length(0)), b = message_for(c.body_length(0));
    ASSERT_TRUE(c.protect(a, SkLayout{}, {}).is_ok());
    ASSERT_TRUE(c.protect(b, SkLayout{}, {}).is_ok());
    const size_t at = kIkeHeaderLength + kSkHeaderLength;
    Bytes iv_a(a.begin() + at, a.begin() + at + c.iv_length());
    Bytes iv_b(b.begin() + at, b.begin() + at + c.iv_length());
    EXPECT_NE(iv_a, iv_b);
    if (c.iv_length() == 8) {
      uint64_t x = 0, y = 0;
      for (int i = 0; i < 8; ++i) {
        x = x << 8 | iv_a[i];
        y = y << 8 | iv_b[i];
      }
      EXPECT_EQ(y, x + 1);
    }
  }
}

TEST(SkCipher, CreateChecksKeysAndTransforms) {
  auto short_key =
      SkCipher::create({EncryptionId::kAesGcm16, 128}, IntegrityId::kNone, Bytes(16, 0), {});
  ASSERT_FALSE(short_key.has_value());
  EXPECT_EQ(short_key.error(),
            "SK payload: ENCR_AES_GCM_16-128 + NONE: encryption key must be 20 bytes, not 16");
  auto no_integ =
      SkCipher::create({EncryptionId::kAesCbc, 128}, IntegrityId::kNone, Bytes(16, 0), {});
  ASSERT_FALSE(no_integ.has_value());
  EXPECT_EQ(no_integ.error(),
            "SK payload: ENCR_AES_CBC-128 + NONE: CBC needs an integrity transform");
  auto bad_auth = SkCipher::create({EncryptionId::kAesCbc, 128}, IntegrityId::kHmacSha1_96,
                                   Bytes(16, 0), Bytes(16, 0));
  ASSERT_FALSE(bad_auth.has_value());
  EXPECT_EQ(bad_auth.error(),
            "SK payload: ENCR_AES_CBC-128 + AUTH_HMAC_SHA1_96: integrity key must be 20 bytes, "
            "not 16");
}

TEST(SkCipher, PairForEachRoleTalksToTheOther) {
  const v::IkeSaVector& vec = ike_vector("gcm256_prf384");
  IkeSaTransforms t{static_cast<PrfId>(vec.prf), {EncryptionId::kAesGcm16, 256}};
  IkeSaKeys keys;
  keys.sk_ei = secret_copy(vec.sk_ei);
  keys.sk_er = secret_copy(vec.sk_er);
  auto initiator = make_sk_ciphers(t, keys, true);
  auto responder = make_sk_ciphers(t, keys, false);
  ASSERT_TRUE(initiator.has_value() && responder.has_value());
  const Bytes inner = random_bytes(33);
  Bytes request = message_for(initiator->outbound.body_length(inner.size()));
  ASSERT_TRUE(initiator->outbound.protect(request, SkLayout{}, inner).is_ok());
  EXPECT_TRUE(responder->inbound.unprotect(request, SkLayout{}).has_value());
  Bytes response = message_for(responder->outbound.body_length(inner.size()));
  ASSERT_TRUE(responder->outbound.protect(response, SkLayout{}, inner).is_ok());
  EXPECT_TRUE(initiator->inbound.unprotect(response, SkLayout{}).has_value());
  // A message cannot be reflected back to its sender.
  Bytes again = message_for(initiator->outbound.body_length(inner.size()));
  ASSERT_TRUE(initiator->outbound.protect(again, SkLayout{}, inner).is_ok());
  EXPECT_FALSE(initiator->inbound.unprotect(again, SkLayout{}).has_value());
}

}  // namespace
}  // namespace tcpsec::ikecrypto

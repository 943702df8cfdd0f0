// OpenSSL (EVP) implementations of the ESP primitives, as an independent
// reference for the intel-ipsec-mb engine. Tests only.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "dataplane/crypto/algorithm.h"

namespace tcpsec::crypto::test {

using Bytes = std::vector<uint8_t>;

inline Bytes hex(std::string_view h) {
  Bytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(nib(h[i]) << 4 | nib(h[i + 1])));
  }
  return out;
}

inline Bytes concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

inline Bytes random_bytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

inline const EVP_CIPHER* evp_cipher(Algorithm a) {
  const AlgorithmProperties& p = properties(a);
  switch (p.cipher) {
    case Cipher::kAesGcm:
      return p.key_length == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    case Cipher::kChaCha20Poly1305:
      return EVP_chacha20_poly1305();
    case Cipher::kAesCbc:
      return p.key_length == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    case Cipher::kNull:
      break;
  }
  return nullptr;
}

// AEAD seal with a 12-byte nonce: ciphertext || 16-byte tag.
inline Bytes ossl_aead_seal(Algorithm a, std::span<const uint8_t> key,
                            std::span<const uint8_t> nonce, std::span<const uint8_t> aad,
                            std::span<const uint8_t> pt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(pt.size() + 16);
  int len = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, evp_cipher(a), nullptr, nullptr, nullptr), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr), 1);
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()), 1);
  if (!aad.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
  }
  if (!pt.empty()) {
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &len, pt.data(), static_cast<int>(pt.size())), 1);
  }
  EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + pt.size(), &len), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + pt.size()), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// AEAD open of ciphertext || tag; nullopt when the tag does not verify.
inline std::optional<Bytes> ossl_aead_open(Algorithm a, std::span<const uint8_t> key,
                                           std::span<const uint8_t> nonce,
                                           std::span<const uint8_t> aad,
                                           std::span<const uint8_t> ct_tag) {
  if (ct_tag.size() < 16) return std::nullopt;
  size_t n = ct_tag.size() - 16;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(n + 16);
  int len = 0;
  EXPECT_EQ(EVP_DecryptInit_ex(ctx, evp_cipher(a), nullptr, nullptr, nullptr), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr), 1);
  EXPECT_EQ(EVP_DecryptInit_ex(ctx, nullptr, nullptr, key.data(), nonce.data()), 1);
  if (!aad.empty()) {
    EXPECT_EQ(EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())), 1);
  }
  if (n != 0) {
    EXPECT_EQ(EVP_DecryptUpdate(ctx, out.data(), &len, ct_tag.data(), static_cast<int>(n)), 1);
  }
  Bytes tag(ct_tag.begin() + n, ct_tag.end());
  EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag.data()), 1);
  int ok = EVP_DecryptFinal_ex(ctx, out.data() + n, &len);
  EVP_CIPHER_CTX_free(ctx);
  if (ok != 1) return std::nullopt;
  out.resize(n);
  return out;
}

// AES-CBC without padding; `data` is a multiple of 16 bytes.
inline Bytes ossl_cbc(Algorithm a, std::span<const uint8_t> key, std::span<const uint8_t> iv,
                      std::span<const uint8_t> data, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(data.size() + 16);
  int len = 0, fin = 0;
  EXPECT_EQ(EVP_CipherInit_ex(ctx, evp_cipher(a), nullptr, key.data(), iv.data(), encrypt), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  if (!data.empty()) {
    EXPECT_EQ(EVP_CipherUpdate(ctx, out.data(), &len, data.data(), static_cast<int>(data.size())),
              1);
  }
  EXPECT_EQ(EVP_CipherFinal_ex(ctx, out.data() + len, &fin), 1);
  EVP_CIPHER_CTX_free(ctx);
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// Full HMAC of `data` with the algorithm's hash (SHA-256 or SHA-1).
inline Bytes ossl_hmac(Algorithm a, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  const EVP_MD* md = properties(a).integrity == Integrity::kHmacSha256 ? EVP_sha256() : EVP_sha1();
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

// The HMAC truncated to the algorithm's ICV.
inline Bytes ossl_icv(Algorithm a, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  Bytes full = ossl_hmac(a, key, data);
  full.resize(properties(a).icv_length);
  return full;
}

}  // namespace tcpsec::crypto::test

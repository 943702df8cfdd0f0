// ESP transforms the dataplane implements, and their wire properties.
//
// One enum value per (encryption, integrity) pair an IKEv2 CHILD_SA can
// negotiate, so the packet path switches on one small value:
//
//   AES-GCM-16 (RFC 4106), ChaCha20-Poly1305 (RFC 7634): AEAD, 8-byte
//   explicit IV, 16-byte ICV, 4-byte salt after the key in the keying material.
//   AES-CBC (RFC 3602) + HMAC-SHA-256-128 (RFC 4868) or HMAC-SHA1-96
//   (RFC 2404): 16-byte IV, encrypt-then-MAC.
//   ENCR_NULL (RFC 2410) + the same HMACs: integrity only, no IV.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsec::crypto {

enum class Algorithm : uint8_t {
  kAesGcm128,
  kAesGcm256,
  kChaCha20Poly1305,
  kAesCbc128HmacSha256,
  kAesCbc256HmacSha256,
  kAesCbc128HmacSha1,
  kAesCbc256HmacSha1,
  kNullHmacSha256,
  kNullHmacSha1,
  kCount
};

enum class Cipher : uint8_t { kAesGcm, kChaCha20Poly1305, kAesCbc, kNull };
enum class Integrity : uint8_t { kAead, kHmacSha256, kHmacSha1 };

struct AlgorithmProperties {
  std::string_view name;  // as in configuration and counters
  Cipher cipher;
  Integrity integrity;
  uint8_t key_length;       // cipher key, salt excluded (0 for NULL)
  uint8_t salt_length;      // nonce salt following the key in the keying material
  uint8_t auth_key_length;  // HMAC key IKEv2 derives (0 for AEAD); see SaCrypto
  uint8_t iv_length;        // explicit IV carried in every packet
  uint8_t icv_length;       // integrity check value after the ESP trailer
  uint8_t block;            // payload + padding + 2 is a multiple of this (>= 4)

  constexpr bool aead() const { return integrity == Integrity::kAead; }
};

inline constexpr std::array<AlgorithmProperties, static_cast<size_t>(Algorithm::kCount)>
    kAlgorithms = {{
        {"aes128gcm16", Cipher::kAesGcm, Integrity::kAead, 16, 4, 0, 8, 16, 4},
        {"aes256gcm16", Cipher::kAesGcm, Integrity::kAead, 32, 4, 0, 8, 16, 4},
        {"chacha20poly1305", Cipher::kChaCha20Poly1305, Integrity::kAead, 32, 4, 0, 8, 16, 4},
        {"aes128-sha256", Cipher::kAesCbc, Integrity::kHmacSha256, 16, 0, 32, 16, 16, 16},
        {"aes256-sha256", Cipher::kAesCbc, Integrity::kHmacSha256, 32, 0, 32, 16, 16, 16},
        {"aes128-sha1", Cipher::kAesCbc, Integrity::kHmacSha1, 16, 0, 20, 16, 12, 16},
        {"aes256-sha1", Cipher::kAesCbc, Integrity::kHmacSha1, 32, 0, 20, 16, 12, 16},
        {"null-sha256", Cipher::kNull, Integrity::kHmacSha256, 0, 0, 32, 0, 16, 4},
        {"null-sha1", Cipher::kNull, Integrity::kHmacSha1, 0, 0, 20, 0, 12, 4},
    }};

constexpr const AlgorithmProperties& properties(Algorithm a) {
  return kAlgorithms[static_cast<size_t>(a)];
}

inline constexpr uint8_t kMaxIvLength = 16;
inline constexpr uint8_t kMaxIcvLength = 16;
inline constexpr uint8_t kMaxBlock = 16;

// Static checks of the table against the RFCs it cites.
namespace detail {
constexpr bool table_is_sane() {
  for (const auto& p : kAlgorithms) {
    if (p.block < 4 || p.block % 4 != 0 || p.block > kMaxBlock) return false;
    if (p.iv_length > kMaxIvLength || p.icv_length > kMaxIcvLength) return false;
    if (p.aead() != (p.auth_key_length == 0)) return false;
    if (p.aead() && (p.salt_length != 4 || p.iv_length != 8 || p.icv_length != 16)) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::table_is_sane());
static_assert(properties(Algorithm::kAesCbc128HmacSha1).icv_length == 12);  // RFC 2404
static_assert(properties(Algorithm::kNullHmacSha256).icv_length == 16);     // RFC 4868

// The algorithm named `name` (as in kAlgorithms), or Algorithm::kCount.
constexpr Algorithm algorithm_from_name(std::string_view name) {
  for (size_t i = 0; i < kAlgorithms.size(); ++i) {
    if (kAlgorithms[i].name == name) return static_cast<Algorithm>(i);
  }
  return Algorithm::kCount;
}

}  // namespace tcpsec::crypto

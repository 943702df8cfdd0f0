// SaCrypto: the expanded keys of one SA direction, ready for the engine.
//
// Keys are expanded once, when the SA is installed (slow path): AES key
// schedules (CBC), GCM key data (round keys and GHASH powers), the ChaCha20
// key, the HMAC inner and outer partial digests (key ^ ipad, key ^ opad after
// one compression). The packet path only reads them, so one SaCrypto may be
// shared by several lcores. Key material is never logged (there is no
// operator<<) and is wiped with a non-elidable clear when the object is
// destroyed or re-installed.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>

#include "common/status.h"
#include "dataplane/crypto/algorithm.h"

namespace tcpsec::crypto {

namespace detail {
struct SaCryptoAccess;  // the engine's view of the keys (crypto_engine.cc)
}  // namespace detail

class alignas(64) SaCrypto {
 public:
  SaCrypto() = default;
  ~SaCrypto();
  SaCrypto(const SaCrypto&) = delete;
  SaCrypto& operator=(const SaCrypto&) = delete;

  // Expands the keys of `algorithm`. `cipher_key` is the encryption keying
  // material: the key followed by the 4-byte salt for AES-GCM (RFC 4106 8.1)
  // and ChaCha20-Poly1305 (RFC 7634 2), the AES key for CBC, empty for NULL.
  // `auth_key` is the HMAC key (empty for AEAD); IKEv2 derives
  // properties().auth_key_length bytes, but any length from 1 to 256 bytes is
  // accepted (RFC 2104; longer than a block is hashed first). Whatever was
  // installed before is wiped first, also on error.
  Status install(Algorithm algorithm, std::span<const uint8_t> cipher_key,
                 std::span<const uint8_t> auth_key);

  // Clears every key byte; installed() is false afterwards.
  void wipe();

  bool installed() const { return installed_; }
  Algorithm algorithm() const { return algorithm_; }
  const AlgorithmProperties& properties() const { return crypto::properties(algorithm_); }

  // Keys are never printed.
  friend std::ostream& operator<<(std::ostream&, const SaCrypto&) = delete;

  static constexpr size_t kKeyStorage = 1024;  // >= sizeof(gcm_key_data), 2 AES schedules

 private:
  friend struct detail::SaCryptoAccess;

  // gcm_key_data (GCM), encryption + decryption key schedules (CBC), or the
  // raw 32-byte key (ChaCha20); see sa_crypto.cc.
  alignas(64) uint8_t keys_[kKeyStorage] = {};
  alignas(16) uint8_t ipad_[32] = {};  // HMAC: H state after (key ^ ipad)
  alignas(16) uint8_t opad_[32] = {};  // HMAC: H state after (key ^ opad)
  uint8_t salt_[4] = {};
  Algorithm algorithm_ = Algorithm::kCount;
  bool installed_ = false;
};

}  // namespace tcpsec::crypto

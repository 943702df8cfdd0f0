// IKEv2 transform IDs (IANA "Internet Key Exchange Version 2 (IKEv2)
// Parameters", RFC 7296 3.3.2) this component implements, and the key, IV and
// ICV lengths they imply. The enum values are the wire values, so the IKE
// state machine can cast a negotiated Transform ID; every function that takes
// one refuses a value it does not know with a message naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace tcpsec::ikecrypto {

// Transform type 4 (Key Exchange Method / D-H group).
enum class DhGroup : uint16_t {
  kModp2048 = 14,    // RFC 3526 section 3
  kEcp256 = 19,      // RFC 5903, NIST P-256
  kEcp384 = 20,      // RFC 5903, NIST P-384
  kCurve25519 = 31,  // RFC 8031
};

// Transform type 2 (Pseudorandom Function). HMAC only: for these the PRF key
// and output lengths are the digest length (RFC 4868 2.1.2, RFC 7296 2.14).
enum class PrfId : uint16_t {
  kHmacSha1 = 2,  // interop with old peers
  kHmacSha256 = 5,
  kHmacSha384 = 6,
  kHmacSha512 = 7,
};

// Transform type 1 (Encryption Algorithm).
enum class EncryptionId : uint16_t {
  kAesCbc = 12,            // RFC 3602; Key Length attribute 128/192/256
  kAesGcm16 = 20,          // RFC 5282 (IKE), RFC 4106 (ESP); 16-byte ICV
  kChaCha20Poly1305 = 28,  // RFC 7634; 256-bit key, no Key Length attribute
};

// Transform type 3 (Integrity Algorithm). kNone with AEAD ciphers.
enum class IntegrityId : uint16_t {
  kNone = 0,
  kHmacSha1_96 = 2,      // RFC 2404
  kHmacSha256_128 = 12,  // RFC 4868
  kHmacSha384_192 = 13,  // RFC 4868
  kHmacSha512_256 = 14,  // RFC 4868
};

// An encryption transform as negotiated: the ID and its Key Length
// attribute in bits (0 where the algorithm has a fixed key length).
struct EncryptionTransform {
  EncryptionId id;
  uint16_t key_bits = 0;
};

struct EncryptionProperties {
  bool aead;
  size_t key_length;         // cipher key in bytes, salt excluded
  size_t salt_length;        // AEAD: salt taken after the key from the keying material
  size_t iv_length;          // explicit IV in each SK payload / ESP packet
  size_t block_length;       // CBC: plaintext + padding + pad length is a multiple of it
  size_t icv_length;         // AEAD tag length (0 for CBC; the integrity transform has it)
  const char* openssl_name;  // EVP_CIPHER name

  size_t keymat_length() const { return key_length + salt_length; }  // SK_e*, ESP encryption key
};

struct IntegrityProperties {
  size_t key_length;   // SK_a*, ESP integrity key
  size_t icv_length;   // truncated HMAC output
  const char* digest;  // EVP_MD name, nullptr for kNone
};

Expected<EncryptionProperties> encryption_properties(EncryptionTransform t);
Expected<IntegrityProperties> integrity_properties(IntegrityId id);

// Digest name (EVP_MD) and output length of an HMAC PRF; nullptr / 0 when
// `id` is not one of PrfId's values.
const char* prf_digest(PrfId id);
size_t prf_length(PrfId id);
// Error for an unsupported PRF, with its number: "unsupported PRF transform 4".
Status unsupported_prf(PrfId id);

std::string to_string(DhGroup g);
std::string to_string(PrfId id);
std::string to_string(EncryptionTransform t);
std::string to_string(IntegrityId id);

}  // namespace tcpsec::ikecrypto

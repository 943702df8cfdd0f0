// Parameters of security associations (ipsec.proto SecurityAssociation):
// the limits and defaults that config validation enforces and fills in, and
// the sizes that go with each ESP transform (EspAlgorithm): key lengths (what
// the configuration must carry), IV and ICV lengths (what the packet
// carries). One table shared by config validation, the SA database and the
// ESP code, so they never disagree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "dataplane/crypto/algorithm.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::sad {

// Mirrors the comments in ipsec.proto.
inline constexpr uint32_t kMaxSas = 65536;              // DataplaneConfig.sas
inline constexpr uint32_t kMinSpi = 256;                // 0-255 reserved (RFC 4303 2.1)
inline constexpr uint32_t kDefaultReplayWindow = 64;    // packets
inline constexpr uint32_t kMaxReplayWindow = 4096;      // packets
inline constexpr uint32_t kDefaultUdpEncapPort = 4500;  // RFC 3948
inline constexpr uint32_t kDefaultPseudoTcpPeerPort = 10000;
inline constexpr uint32_t kMaxLifetimeSeconds = 31536000;  // 365 days
inline constexpr uint64_t kMaxPacketsWithoutEsn = 0xffffffffu;
inline constexpr size_t kMaxNameLength = 64;  // SA and policy names

// The configuration's name for an ESP transform and the dataplane's. The
// wire properties (key, salt, IV, ICV lengths) come from crypto::kAlgorithms,
// the one table of them.
struct EspAlgorithmInfo {
  v1::EspAlgorithm id = v1::ESP_ALGORITHM_UNSPECIFIED;
  const char* name = "";  // as in ipsec.proto, without the ESP_ALGORITHM_ prefix
  crypto::Algorithm algorithm = crypto::Algorithm::kCount;
  uint8_t cipher_key_bytes = 0;     // the cipher key proper, 0 for NULL
  uint8_t salt_bytes = 0;           // appended to the cipher key (AEADs: 4)
  uint8_t integrity_key_bytes = 0;  // HMAC key, 0 for the AEADs
  uint8_t iv_bytes = 0;             // per-packet IV in the ESP payload
  uint8_t icv_bytes = 0;            // integrity check value at the end
  uint8_t block_bytes = 0;          // padding alignment of the encrypted part
  bool aead = false;

  // Bytes SecurityAssociation.encryption_key must have: key + salt.
  uint32_t encryption_key_bytes() const { return uint32_t{cipher_key_bytes} + salt_bytes; }
};

constexpr EspAlgorithmInfo esp_algorithm_info(v1::EspAlgorithm id, const char* name,
                                              crypto::Algorithm a) {
  const crypto::AlgorithmProperties& p = crypto::properties(a);
  return {id,          name,         a,       p.key_length, p.salt_length, p.auth_key_length,
          p.iv_length, p.icv_length, p.block, p.aead()};
}

inline constexpr EspAlgorithmInfo kEspAlgorithms[] = {
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_GCM_128, "AES_GCM_128", crypto::Algorithm::kAesGcm128),
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_GCM_256, "AES_GCM_256", crypto::Algorithm::kAesGcm256),
    esp_algorithm_info(v1::ESP_ALGORITHM_CHACHA20_POLY1305, "CHACHA20_POLY1305",
                       crypto::Algorithm::kChaCha20Poly1305),
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA256, "AES_CBC_128_HMAC_SHA256",
                       crypto::Algorithm::kAesCbc128HmacSha256),
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA256, "AES_CBC_256_HMAC_SHA256",
                       crypto::Algorithm::kAesCbc256HmacSha256),
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_CBC_128_HMAC_SHA1, "AES_CBC_128_HMAC_SHA1",
                       crypto::Algorithm::kAesCbc128HmacSha1),
    esp_algorithm_info(v1::ESP_ALGORITHM_AES_CBC_256_HMAC_SHA1, "AES_CBC_256_HMAC_SHA1",
                       crypto::Algorithm::kAesCbc256HmacSha1),
    esp_algorithm_info(v1::ESP_ALGORITHM_NULL_HMAC_SHA256, "NULL_HMAC_SHA256",
                       crypto::Algorithm::kNullHmacSha256),
    esp_algorithm_info(v1::ESP_ALGORITHM_NULL_HMAC_SHA1, "NULL_HMAC_SHA1",
                       crypto::Algorithm::kNullHmacSha1),
};

// The entry for `id`, or nullopt for UNSPECIFIED and unknown values.
inline std::optional<EspAlgorithmInfo> esp_algorithm(int id) {
  for (const EspAlgorithmInfo& a : kEspAlgorithms) {
    if (a.id == id) return a;
  }
  return std::nullopt;
}

}  // namespace tcpsec::sad

// The IKEv2 PRFs (HMAC-SHA1, HMAC-SHA2-256/384/512; RFC 7296 2.13, RFC 4868)
// and prf+, the key expansion of RFC 7296 2.13.
//
// OpenSSL 3 has no IKEv2 KDF (its "SSHKDF"/"TLS1-PRF"/"HKDF" are other
// constructions), so prf+ is written here on top of EVP_MAC HMAC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/status.h"
#include "controlplane/crypto/hmac.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/crypto/transforms.h"

namespace tcpsec::ikecrypto {

// prf(key, data): prf_length(id) bytes. The ByteParts form computes the PRF
// over the concatenation of the parts ("Ni | Nr").
Expected<SecretBytes> prf(PrfId id, std::span<const uint8_t> key, std::span<const uint8_t> data);
Expected<SecretBytes> prf(PrfId id, std::span<const uint8_t> key, ByteParts data);

// prf+(key, seed) truncated to `length` bytes:
//   T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), prf+ = T1 | T2 | ...
// The counter is one octet, so at most 255 * prf_length(id) bytes exist;
// longer requests are an error.
Expected<SecretBytes> prf_plus(PrfId id, std::span<const uint8_t> key,
                               std::span<const uint8_t> seed, size_t length);
Expected<SecretBytes> prf_plus(PrfId id, std::span<const uint8_t> key, ByteParts seed,
                               size_t length);

}  // namespace tcpsec::ikecrypto

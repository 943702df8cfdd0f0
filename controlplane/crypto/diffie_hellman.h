// Ephemeral Diffie-Hellman for IKEv2 key exchange (KE payload, RFC 7296
// 3.4): MODP group 14 (RFC 3526), ECP groups 19 and 20 (RFC 5903) and
// Curve25519 (RFC 8031), on OpenSSL EVP_PKEY.
//
// Wire encodings (the KE payload's Key Exchange Data and the g^ir fed to the
// key derivation):
//   MODP: public value and shared secret big-endian, left-padded with zeros
//         to the length of the prime (256 bytes) (RFC 7296 3.4, 2.14).
//   ECP:  public value x | y, each padded to the field size, without the
//         0x04 point-format octet (RFC 5903 7); shared secret x only (5903 7).
//   X25519: 32-byte public value and shared secret (RFC 8031 2, 2.3).
//
// MODP private exponents have OpenSSL's default length for the named group
// (about 224 bits for modp_2048: twice the group's 112-bit strength, as
// NIST SP 800-56A allows), not the full 2048 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/status.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/crypto/transforms.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tcpsec::ikecrypto {

// Length of the KE payload's Key Exchange Data for `group`, 0 if unsupported.
size_t dh_public_value_length(DhGroup group);

class DhKeyPair {
 public:
  // A fresh key pair from OpenSSL's CSPRNG.
  static Expected<DhKeyPair> generate(DhGroup group);

  // Known-answer tests only: the key pair with this private value
  // (big-endian integer for MODP and ECP, the 32-byte scalar for X25519).
  // Never use a fixed private value for a real exchange.
  static Expected<DhKeyPair> from_private_key_for_testing(DhGroup group,
                                                          std::span<const uint8_t> private_key);

  DhGroup group() const { return group_; }
  // Our public value in the KE payload encoding above.
  const Bytes& public_value() const { return public_value_; }

  // g^ir from the peer's KE data, after checking it: its length, for ECP
  // that it is a point on the curve (not the point at infinity), for MODP
  // that 1 < y < p-1, for X25519 that the result is not all zero (RFC 8031
  // 2.3). Errors say which check failed.
  Expected<SecretBytes> shared_secret(std::span<const uint8_t> peer_public_value) const;

  DhKeyPair(DhKeyPair&&) noexcept;
  DhKeyPair& operator=(DhKeyPair&&) noexcept;
  ~DhKeyPair();

 private:
  struct PkeyFree {
    void operator()(EVP_PKEY* p) const;
  };
  DhKeyPair(DhGroup group, EVP_PKEY* key, Bytes public_value);

  DhGroup group_;
  std::unique_ptr<EVP_PKEY, PkeyFree> key_;  // private key; OpenSSL clears it on free
  Bytes public_value_;
};

}  // namespace tcpsec::ikecrypto

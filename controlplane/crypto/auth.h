// AUTH payload data (RFC 7296 2.15, 3.8): the octets each side signs, the
// shared key MIC (method 2), and digital signatures: RSA PKCS#1 v1.5 with
// SHA-1 (method 1), ECDSA with r | s (methods 9, 10, 11; RFC 4754), and the
// Digital Signature method (14, RFC 7427) with ECDSA or RSA PKCS#1 v1.5 over
// SHA-256/384/512, which prefixes the signature with the length and DER of
// its AlgorithmIdentifier.
//
// Who signs what (2.15):
//   initiator: RealMessage1 (the IKE_SA_INIT request as sent) | Nr (the
//              responder's Nonce Data) | prf(SK_pi, IDi payload body)
//   responder: RealMessage2 (the IKE_SA_INIT response) | Ni | prf(SK_pr, IDr body)
// where the ID payload body is ID Type | RESERVED (3) | Identification Data,
// i.e. the payload without its generic header.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/crypto/transforms.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tcpsec::ikecrypto {

// Auth Method of the AUTH payload (IANA IKEv2 Authentication Method).
enum class AuthMethod : uint8_t {
  kRsaSignature = 1,       // PKCS#1 v1.5 with SHA-1 (interop only)
  kSharedKeyMic = 2,       // PSK
  kEcdsaSha256P256 = 9,    // RFC 4754
  kEcdsaSha384P384 = 10,   // RFC 4754
  kEcdsaSha512P521 = 11,   // RFC 4754
  kDigitalSignature = 14,  // RFC 7427
};

// Hash of a method-14 signature (RFC 7427 / 7296 hash algorithm IDs).
enum class SignatureHash : uint16_t { kSha256 = 2, kSha384 = 3, kSha512 = 4 };

// InitiatorSignedOctets or ResponderSignedOctets (see above). `sk_p` is
// SK_pi for the initiator's, SK_pr for the responder's, whichever side
// computes them (to sign or to verify).
Expected<Bytes> signed_octets(PrfId prf, std::span<const uint8_t> sk_p,
                              std::span<const uint8_t> real_message,
                              std::span<const uint8_t> peer_nonce,
                              std::span<const uint8_t> id_payload_body);

// Shared key MIC: prf(prf(Shared Secret, "Key Pad for IKEv2"), signed octets).
Expected<Bytes> shared_key_auth(PrfId prf, std::span<const uint8_t> shared_secret,
                                std::span<const uint8_t> signed_octets);
// Compares the received AUTH data with ours in constant time. Error:
// "AUTH: shared key MIC mismatch" (wrong PSK, or tampered IKE_SA_INIT).
Status verify_shared_key_auth(PrfId prf, std::span<const uint8_t> shared_secret,
                              std::span<const uint8_t> signed_octets,
                              std::span<const uint8_t> received_auth);

// AUTH data for a signature method. `hash` matters only for method 14 (the
// other methods fix it). The key must fit the method: RSA for 1, EC P-256 /
// P-384 / P-521 for 9 / 10 / 11, RSA or EC for 14.
Expected<Bytes> sign_auth(AuthMethod method, EVP_PKEY* private_key,
                          std::span<const uint8_t> signed_octets,
                          SignatureHash hash = SignatureHash::kSha256);
// Checks received AUTH data of a signature method against the peer's public
// key (from its certificate or configuration). For method 14 the
// AlgorithmIdentifier must be one of those sign_auth writes and fit the key.
Status verify_auth(AuthMethod method, EVP_PKEY* public_key, std::span<const uint8_t> signed_octets,
                   std::span<const uint8_t> auth_data);

}  // namespace tcpsec::ikecrypto

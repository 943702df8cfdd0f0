// Key material of IKE SAs and Child SAs (RFC 7296 2.13-2.18).
//
//   IKE SA (2.14):   SKEYSEED = prf(Ni | Nr, g^ir)
//                    {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//                        = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//   rekeyed IKE SA (2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)
//                    with the OLD SA's PRF; the keys then as in 2.14 with the
//                    new SA's PRF, the new SPIs and the CREATE_CHILD_SA nonces.
//   Child SA (2.17): KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken as
//                    initiator->responder encryption key, integrity key, then
//                    responder->initiator encryption key, integrity key.
//
// Nonces are the Nonce Data of the exchange (for the first Child SA, the
// IKE_SA_INIT nonces); SPIs are the 8-byte IKE SPIs as on the wire.
// With an AEAD cipher there are no SK_a* / integrity keys, and each
// encryption key includes its 4-byte salt (RFC 5282 7.1, RFC 4106 8.1,
// RFC 7634 2): key | salt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/status.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/crypto/transforms.h"

namespace tcpsec::ikecrypto {

// The transforms of an IKE SA that decide its key lengths.
struct IkeSaTransforms {
  PrfId prf;
  EncryptionTransform encryption;
  IntegrityId integrity = IntegrityId::kNone;  // kNone with an AEAD cipher
};

struct IkeSaKeyLengths {
  size_t sk_d;  // = SK_pi = SK_pr: the PRF's key length (2.13)
  size_t sk_a;  // each of SK_ai, SK_ar; 0 for AEAD
  size_t sk_e;  // each of SK_ei, SK_er; cipher key + salt
  size_t total() const { return 3 * sk_d + 2 * sk_a + 2 * sk_e; }
};

// Lengths for `t`, or an error for an unsupported transform or a mix that
// RFC 7296 / 5282 forbids (AEAD with an integrity transform, CBC without).
Expected<IkeSaKeyLengths> ike_sa_key_lengths(const IkeSaTransforms& t);

struct IkeSaKeys {
  SecretBytes sk_d;   // derives Child SA keys and the rekeyed IKE SA's SKEYSEED
  SecretBytes sk_ai;  // integrity, initiator -> responder (empty for AEAD)
  SecretBytes sk_ar;  // integrity, responder -> initiator (empty for AEAD)
  SecretBytes sk_ei;  // encryption, initiator -> responder (key | salt for AEAD)
  SecretBytes sk_er;  // encryption, responder -> initiator
  SecretBytes sk_pi;  // initiator's AUTH payload (signed_octets)
  SecretBytes sk_pr;  // responder's AUTH payload
};

// SKEYSEED of a new IKE SA (IKE_SA_INIT).
Expected<SecretBytes> skeyseed(PrfId prf, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                               std::span<const uint8_t> shared_secret);

// SKEYSEED of a rekeyed IKE SA: `old_prf` and `old_sk_d` are those of the
// SA being rekeyed; nonces and g^ir from the CREATE_CHILD_SA exchange.
Expected<SecretBytes> rekey_skeyseed(PrfId old_prf, std::span<const uint8_t> old_sk_d,
                                     std::span<const uint8_t> shared_secret,
                                     std::span<const uint8_t> ni, std::span<const uint8_t> nr);

// The seven keys from SKEYSEED (either kind), with `t.prf` for prf+.
Expected<IkeSaKeys> derive_ike_sa_keys(const IkeSaTransforms& t, std::span<const uint8_t> skeyseed,
                                       std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                                       std::span<const uint8_t> spi_i,
                                       std::span<const uint8_t> spi_r);

// The ESP (or AH-less) transforms of a Child SA that decide its key lengths.
struct ChildSaTransforms {
  EncryptionTransform encryption;
  IntegrityId integrity = IntegrityId::kNone;  // kNone with an AEAD cipher
};

struct ChildSaKeyLengths {
  size_t encryption;  // per direction, salt included for AEAD
  size_t integrity;   // per direction, 0 for AEAD
};

Expected<ChildSaKeyLengths> child_sa_key_lengths(const ChildSaTransforms& t);

struct ChildSaKeys {
  SecretBytes encryption_i2r;  // initiator -> responder SA
  SecretBytes integrity_i2r;
  SecretBytes encryption_r2i;  // responder -> initiator SA
  SecretBytes integrity_r2i;
};

// KEYMAT for one ESP Child SA pair. `prf` and `sk_d` are the IKE SA's;
// `pfs_shared_secret` is g^ir of the CREATE_CHILD_SA's optional KE exchange
// (empty: no PFS, and always empty for the Child SA of IKE_AUTH).
Expected<ChildSaKeys> derive_child_sa_keys(PrfId prf, std::span<const uint8_t> sk_d,
                                           const ChildSaTransforms& t, std::span<const uint8_t> ni,
                                           std::span<const uint8_t> nr,
                                           std::span<const uint8_t> pfs_shared_secret = {});

}  // namespace tcpsec::ikecrypto

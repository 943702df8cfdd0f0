// Negotiated algorithms to the types of controlplane/crypto (key derivation)
// and of the dataplane (v1::EspAlgorithm in ipsec.proto).
#pragma once

#include "common/status.h"
#include "controlplane/crypto/ike_keys.h"
#include "controlplane/crypto/transforms.h"
#include "controlplane/proposals/proposal_spec.h"
#include "controlplane/proposals/selection.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::proposals {

// Errors name the algorithm: "DH group modp1024 is not supported".
Expected<ikecrypto::DhGroup> to_ikecrypto(ike::DhGroup group);
Expected<ikecrypto::PrfId> to_ikecrypto(ike::PrfId prf);
// IKE SA transforms, checked with ikecrypto::ike_sa_key_lengths.
Expected<ikecrypto::IkeSaTransforms> to_ikecrypto(const IkeAlgorithms& a);
// Child SA transforms, checked with ikecrypto::child_sa_key_lengths. NULL
// encryption is refused: controlplane/crypto has no ENCR_NULL (yet).
Expected<ikecrypto::ChildSaTransforms> to_ikecrypto(const EspAlgorithms& a);

// The dataplane's ESP algorithm for the pair (encryption, integrity), or an
// error for combinations it lacks ("aes192-sha256", "aes128-sha384", ...).
Expected<v1::EspAlgorithm> to_esp_algorithm(const EspAlgorithms& a);

// Whether every combination that selection could pick from `spec` has a
// dataplane algorithm and keys that controlplane/crypto can derive (config
// validation: an accepted proposal must be installable).
Status check_installable(const EspProposalSpec& spec);
// Same for IKE: every (encryption, integrity, PRF, DH) is implemented.
Status check_supported(const IkeProposalSpec& spec);

}  // namespace tcpsec::proposals

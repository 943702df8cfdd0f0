// IKE and ESP proposals in strongSwan notation ("aes128-sha256-ecp256",
// "aes256gcm16-prfsha384-ecp384", "aes128gcm16", "aes256-sha1-modp2048-esn").
//
// A proposal string is a '-'-separated list of algorithm tokens. Like
// strongSwan, one proposal may list several algorithms of one type
// ("aes128-aes256-sha256-ecp256-modp2048"); the peer's choice among them is
// made by selection (selection.h). Tokens:
//   encryption  aes128 aes192 aes256 (CBC), aes128gcm16 aes192gcm16
//               aes256gcm16 (also aes128gcm, ...), chacha20poly1305, null (ESP)
//   integrity   sha1 sha256 sha384 sha512 (HMAC; not with an AEAD cipher)
//   PRF (IKE)   prfsha1 prfsha256 prfsha384 prfsha512; without one, a
//               non-AEAD IKE proposal takes the PRFs of its integrity
//               algorithms (as strongSwan does); an AEAD one must name one
//   DH          modp2048 (14) ecp256 (19) ecp384 (20) x25519 / curve25519 (31):
//               required for IKE, optional for ESP (PFS on rekey)
//   ESN (ESP)   esn, noesn (default noesn)
// The set is what controlplane/crypto implements. Errors name the token and
// the proposal: "unknown token 'aes999' in 'aes999-sha256-ecp256'".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controlplane/message/ike_constants.h"

namespace tcpsec::proposals {

// An encryption transform: the IANA ID and its Key Length attribute in bits
// (0: the transform carries no Key Length attribute, e.g. ChaCha20-Poly1305).
struct EncryptionAlgorithm {
  ike::EncrId id = ike::EncrId::kAesCbc;
  uint16_t key_bits = 0;
  bool aead() const;
  bool operator==(const EncryptionAlgorithm&) const = default;
};

// A configured IKE proposal: each list in preference order, none empty
// except `integrity` (empty exactly when the ciphers are AEAD).
struct IkeProposalSpec {
  std::vector<EncryptionAlgorithm> encryption;
  std::vector<ike::IntegId> integrity;
  std::vector<ike::PrfId> prf;
  std::vector<ike::DhGroup> dh;
  bool operator==(const IkeProposalSpec&) const = default;
};

// A configured ESP proposal. `dh` empty: no PFS. `esn` never empty.
struct EspProposalSpec {
  std::vector<EncryptionAlgorithm> encryption;
  std::vector<ike::IntegId> integrity;
  std::vector<ike::DhGroup> dh;
  std::vector<ike::EsnId> esn{ike::EsnId::kNoEsn};
  bool operator==(const EspProposalSpec&) const = default;
};

Expected<IkeProposalSpec> parse_ike_proposal(std::string_view text);
Expected<EspProposalSpec> parse_esp_proposal(std::string_view text);

// Parses every string; the error names the index: "[1]: unknown token ...".
Expected<std::vector<IkeProposalSpec>> parse_ike_proposals(const std::vector<std::string>& texts);
Expected<std::vector<EspProposalSpec>> parse_esp_proposals(const std::vector<std::string>& texts);

// strongSwan notation back ("aes128-sha256-ecp256"; the PRFs are written
// only where they differ from those of the integrity algorithms, as in
// "aes128-sha256-prfsha384-ecp256"). parse(to_string(x)) == x.
std::string to_string(const IkeProposalSpec& spec);
std::string to_string(const EspProposalSpec& spec);

// Token names of single transforms, also for IDs that the parser refuses
// (modp1024, 3des, aes128ctr, ...) so that a peer's offer can be printed;
// an ID without a name prints as e.g. "encr99" / "dh99".
std::string encryption_name(ike::EncrId id, uint16_t key_bits);
std::string integrity_name(ike::IntegId id);
std::string prf_name(ike::PrfId id);
std::string dh_name(ike::DhGroup group);

// The PRFs a non-AEAD IKE proposal without prf tokens gets: those of its
// integrity algorithms, in their order (sha256 -> prfsha256).
std::vector<ike::PrfId> default_prfs(const std::vector<ike::IntegId>& integrity);

}  // namespace tcpsec::proposals

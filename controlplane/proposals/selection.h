// Proposal selection (RFC 7296 2.7, 3.3.6).
//
// Responder: select_ike / select_esp pick one of the peer's proposals and
// one transform of each type, and return the proposal to answer with (the
// peer's proposal number, the single chosen transforms). Order: OUR
// preference first, as strongSwan does by default: our proposals in
// configured order, each compared with the peer's proposals in their order;
// within a matching pair each transform type is chosen in our order.
//
// Initiator: accept_ike_reply / accept_esp_reply check the responder's
// answer: exactly one proposal, numbered as one we sent, with exactly one
// transform of each type that proposal had, each one we offered.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include "common/status.h"
#include "controlplane/message/payloads.h"
#include "controlplane/proposals/proposal_spec.h"

namespace tcpsec::proposals {

// A negotiated IKE SA: one algorithm of each type.
struct IkeAlgorithms {
  EncryptionAlgorithm encryption;
  ike::IntegId integrity = ike::IntegId::kNone;  // kNone with AEAD
  ike::PrfId prf = ike::PrfId::kHmacSha2_256;
  ike::DhGroup dh = ike::DhGroup::kNone;
  bool operator==(const IkeAlgorithms&) const = default;
};

// A negotiated ESP SA. dh is kNone without PFS (and always in IKE_AUTH).
struct EspAlgorithms {
  EncryptionAlgorithm encryption;
  ike::IntegId integrity = ike::IntegId::kNone;
  ike::DhGroup dh = ike::DhGroup::kNone;
  ike::EsnId esn = ike::EsnId::kNoEsn;
  bool operator==(const EspAlgorithms&) const = default;
};

// "aes128-sha256-ecp256" (prf implied as in to_string(IkeProposalSpec)).
std::string to_string(const IkeAlgorithms& a);
std::string to_string(const EspAlgorithms& a);

struct IkeChoice {
  // The SA payload's proposal to answer with: the peer's number, the chosen
  // transforms (an INTEG NONE the peer sent with AEAD is echoed), and an
  // EMPTY spi: set it to our new SPI when answering an IKE SA rekey.
  ike::Proposal proposal;
  IkeAlgorithms algorithms;
  // select_*: index of the configured proposal that matched; accept_*: of
  // the answered proposal in offered_by_us (the same when built by build_*_sa).
  size_t ours = 0;
  ike::Bytes peer_spi;  // the peer's SPI in that proposal (rekey: 8 bytes)
};

struct EspChoice {
  // As IkeChoice::proposal; set `spi` to our inbound SPI (4 bytes).
  ike::Proposal proposal;
  EspAlgorithms algorithms;
  size_t ours = 0;
  ike::Bytes peer_spi;  // 4 bytes: the SPI of our outbound SA
};

enum class SelectFailure {
  kNoProposalChosen,  // answer NO_PROPOSAL_CHOSEN
  kInvalidKePayload,  // answer INVALID_KE_PAYLOAD with `group`
};

struct SelectError {
  SelectFailure failure = SelectFailure::kNoProposalChosen;
  ike::DhGroup group = ike::DhGroup::kNone;  // kInvalidKePayload: the group we want
  // "no proposal chosen: offered [aes256-sha1-modp1024], configured
  // [aes128-sha256-ecp256, ...]", or "KE payload has group modp2048, the
  // chosen proposal aes128-sha256-ecp256 needs ecp256".
  std::string message;
};

// Either a choice or why there is none.
template <typename T>
class Selected {
 public:
  Selected(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Selected(SelectError error) : v_(std::move(error)) {}  // NOLINT
  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const SelectError& error() const { return std::get<SelectError>(v_); }

 private:
  std::variant<T, SelectError> v_;
};

// IKE_SA_INIT (or an IKE SA rekey) responder. `ke_group`: the group of the
// peer's KE payload. When given, among the acceptable choices one using that
// group wins (saving a round trip); if none does, the result is
// kInvalidKePayload naming the group of the best choice. Proposals with a
// transform type or attribute we do not know are skipped (RFC 7296 3.3.6).
Selected<IkeChoice> select_ike(const ike::Sa& offered, std::span<const IkeProposalSpec> ours,
                               std::optional<ike::DhGroup> ke_group = std::nullopt);

struct EspSelectOptions {
  // IKE_AUTH: no KE exchange, so DH transforms are ignored on both sides
  // (RFC 7296 1.2) and the answer carries none.
  bool ike_auth = false;
  // CREATE_CHILD_SA: the group of the peer's KE payload, if it sent one.
  std::optional<ike::DhGroup> ke_group;
};

// Child SA responder. Our PFS groups (spec.dh) must be met by the peer's DH
// transforms; a spec without groups accepts a proposal without DH
// transforms or with DH "none". ESN absent in the offer counts as NO_ESN.
Selected<EspChoice> select_esp(const ike::Sa& offered, std::span<const EspProposalSpec> ours,
                               EspSelectOptions options = {});

// Initiator: the responder's SA payload against the one we sent.
Expected<IkeChoice> accept_ike_reply(const ike::Sa& offered_by_us, const ike::Sa& reply);
Expected<EspChoice> accept_esp_reply(const ike::Sa& offered_by_us, const ike::Sa& reply);

}  // namespace tcpsec::proposals

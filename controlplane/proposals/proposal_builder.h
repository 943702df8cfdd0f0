// SA payload contents from configured proposals, and printing of any
// proposal received from a peer in strongSwan-like notation.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "controlplane/message/payloads.h"
#include "controlplane/proposals/proposal_spec.h"

namespace tcpsec::proposals {

// One ike::Proposal per spec, transforms in the order strongSwan sends them
// (ENCR, INTEG, PRF, DH; ESP: ENCR, INTEG, DH, ESN), each AES transform with
// its Key Length attribute. `spi`: empty in IKE_SA_INIT, the new 8-byte SPI
// when rekeying an IKE SA; the 4-byte inbound SPI for ESP.
ike::Proposal build_ike_proposal(const IkeProposalSpec& spec, uint8_t number,
                                 const ike::Bytes& spi = {});

// `with_dh` false leaves the DH transforms out: the Child SA created in
// IKE_AUTH has no KE exchange (strongSwan strips them there, too); true for
// CREATE_CHILD_SA with PFS. The ESN transform is always there.
ike::Proposal build_esp_proposal(const EspProposalSpec& spec, uint8_t number, const ike::Bytes& spi,
                                 bool with_dh);

// An SA payload of all `specs`, numbered 1, 2, ... in order (at most
// ike::kMaxProposals are used).
ike::Sa build_ike_sa(std::span<const IkeProposalSpec> specs, const ike::Bytes& spi = {});
ike::Sa build_esp_sa(std::span<const EspProposalSpec> specs, const ike::Bytes& spi, bool with_dh);

// A received proposal in the notation of proposal_spec.h, e.g.
// "aes256-sha1-modp1024" or "aes128gcm16-prfsha256-ecp256-esn". Transform
// types it cannot name print as "type7:1"; never fails.
std::string to_string(const ike::Proposal& proposal);
// "[aes128-sha256-ecp256, aes256gcm16-prfsha384-ecp384]".
std::string to_string(const ike::Sa& sa);

}  // namespace tcpsec::proposals

// Authenticator: how we prove our identity in IKE_AUTH (CERT and AUTH
// payloads) and how we check the peer's proof, one implementation per
// AuthKind: shared keys (PSK, AUTH method 2) and certificates (PUBKEY:
// RSA or ECDSA signatures, methods 1, 9, 10, 11 and RFC 7427's 14).
// IkeAuth takes one for each direction from the connection:
//
//   auto mine = make_authenticator(c.local_auth());    // signs our AUTH
//   auto theirs = make_authenticator(c.remote_auth()); // verifies the peer's
//
// Certificates follow what strongSwan 5.9 expects: CERTREQ (SHA-1 of each
// trust anchor's SubjectPublicKeyInfo) from the responder in IKE_SA_INIT
// and from the initiator in IKE_AUTH, so that a peer with "send_cert =
// ifasked" sends its CERT; we always send ours (end-entity, then the rest
// of local_certificate's chain). SIGNATURE_HASH_ALGORITHMS (RFC 7427) goes
// in IKE_SA_INIT; when the peer sends it too we sign with method 14,
// otherwise with the classic method of the key (certs::choose_signature).
// Credentials and trust anchors are read from their files for each IKE SA,
// so renewed files take effect without a restart.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "controlplane/ikesa/task.h"
#include "controlplane/message/payloads.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::ikesa {

// What one side sends to authenticate: CERT payloads, then AUTH.
struct Proof {
  std::vector<ike::Payload> certs;
  ike::Auth auth;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Our proof for identity `our_id` over our signed octets (RFC 7296
  // 2.15; which octets follows sa.initiator()). `peer_id`: the peer's
  // identity when known (the responder), else empty data (the
  // connection's remote_id), to pick a PSK.
  virtual Expected<Proof> prove(const IkeSa& sa, TaskContext& ctx, const ike::Id& our_id,
                                const ike::Id& peer_id) = 0;
  // Checks the peer's AUTH (and CERTs) in `in`, for identity `peer_id`.
  // Errors say why: "certificate \"...\" is not trusted: ...", "identity
  // ... is not in the subjectAltName ...", "...: signature does not verify",
  // "shared key MIC mismatch ...".
  virtual Status verify(const IkeSa& sa, TaskContext& ctx, const ike::Id& peer_id,
                        const std::vector<ike::Payload>& in) = 0;
};

// PSK for AUTH_KIND_PSK (and UNSPECIFIED), certificates for PUBKEY.
std::unique_ptr<Authenticator> make_authenticator(v1::AuthKind kind);

// Whether a connection authenticates either way with certificates.
bool uses_certificates(const v1::Connection& c);
// SIGNATURE_HASH_ALGORITHMS with SHA-256, SHA-384, SHA-512 (RFC 7427 4).
ike::Payload signature_hash_notify();
// The hash algorithm IDs of the peer's SIGNATURE_HASH_ALGORITHMS, if any.
std::vector<uint16_t> peer_signature_hashes(const std::vector<ike::Payload>& in);
// CERTREQ listing our trust anchors when the peer authenticates with
// certificates (remote_auth PUBKEY); nullopt otherwise.
Expected<std::optional<ike::Payload>> certificate_request(const v1::GatewayConfig& config,
                                                          const v1::Connection& c);

}  // namespace tcpsec::ikesa

// Negotiation glue between a Connection's configuration and the payloads
// of an exchange: which proposals to offer, which to accept, traffic
// selectors, identities and secrets. Implemented over controlplane/
// proposals and controlplane/selectors; tasks only see this header.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "controlplane/crypto/ike_keys.h"
#include "controlplane/crypto/transforms.h"
#include "controlplane/message/payloads.h"
#include "tcpsec/v1/gateway.pb.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::ikesa {

struct IkeChoice {
  ike::Proposal reply;  // one transform per type, the peer's proposal number
  ikecrypto::IkeSaTransforms transforms;
  ikecrypto::DhGroup dh{};
  std::string text;     // "aes128-sha256-ecp256"
  ike::Bytes peer_spi;  // an IKE SA rekey: the peer's new SPI (8 bytes)
};

// The responder's choice, or why there is none.
struct IkeSelection {
  std::optional<IkeChoice> choice;
  // Set when a proposal fits but with another DH group than the KE payload
  // carries: answer INVALID_KE_PAYLOAD with this group.
  std::optional<ikecrypto::DhGroup> want_group;
  std::string error;
};

// `spi`: empty in IKE_SA_INIT, our new SPI when rekeying the IKE SA.
Expected<ike::Sa> offered_ike_sa(const v1::Connection& c, const ike::Bytes& spi = {});
Expected<ikecrypto::DhGroup> first_dh_group(const v1::Connection& c);
IkeSelection select_ike(const v1::Connection& c, const ike::Sa& offered, uint16_t ke_group);
Expected<IkeChoice> accept_ike(const v1::Connection& c, const ike::Sa& reply,
                               const ike::Bytes& our_spi = {});

struct EspChoice {
  ike::Proposal reply;
  ikecrypto::ChildSaTransforms transforms;
  v1::EspAlgorithm algorithm = v1::ESP_ALGORITHM_UNSPECIFIED;
  uint32_t peer_spi = 0;
  std::string text;
  bool esn = false;                             // extended sequence numbers negotiated
  std::optional<ikecrypto::DhGroup> pfs_group;  // CREATE_CHILD_SA with a KE exchange
};

// IKE_AUTH (`with_dh` false: no KE exchange) or CREATE_CHILD_SA (true:
// the proposals' PFS groups are offered).
Expected<ike::Sa> offered_esp_sa(const v1::Connection& c, uint32_t our_spi, bool with_dh = false);
// The PFS group our first ESP proposal asks for, if any.
std::optional<ikecrypto::DhGroup> pfs_group(const v1::Connection& c);
// `ke_group`: the peer's KE payload group in CREATE_CHILD_SA; nullopt in
// IKE_AUTH (no KE exchange).
Expected<EspChoice> select_esp(const v1::Connection& c, const ike::Sa& offered, uint32_t our_spi,
                               std::optional<uint16_t> ke_group = std::nullopt,
                               bool create_child_sa = false);
Expected<EspChoice> accept_esp(const v1::Connection& c, const ike::Sa& reply, bool with_dh = false);

struct TsChoice {
  ike::Ts tsi, tsr;  // as sent (initiator) or answered (responder)
  // The Child SA's selectors for the dataplane (policies, the inbound SA's
  // check after decryption), from our local to the remote side.
  std::vector<v1::TrafficSelector> selectors;
  std::string local_text, remote_text;  // for logs and lists
};

// Our TSi/TSr as the initiator of a Child SA.
Expected<TsChoice> offered_ts(const v1::Connection& c, bool initiator);
// Responder: the intersection of the initiator's TSi/TSr with ours
// (RFC 7296 2.9); an error means TS_UNACCEPTABLE.
Expected<TsChoice> narrow_ts(const v1::Connection& c, const ike::Ts& tsi, const ike::Ts& tsr);
// Responder of remote access: `ts` with the peer's side (TSi) narrowed to
// the one address leased to it (which must lie within it).
Expected<TsChoice> narrow_peer_to_address(const v1::Connection& c, const TsChoice& ts,
                                          const std::string& address);
// Initiator: the responder's (narrowed) reply.
Expected<TsChoice> accept_ts(const v1::Connection& c, const ike::Ts& tsi, const ike::Ts& tsr);

Expected<ike::Id> local_identity(const v1::Connection& c);
bool remote_identity_matches(const v1::Connection& c, const ike::Id& id);
std::string identity_text(const ike::Id& id);
// The PSK shared with the peer identified as `peer` (empty data: the
// connection's configured remote identity).
Expected<ikecrypto::SecretBytes> shared_secret(const v1::GatewayConfig& config,
                                               const v1::Connection& c, const ike::Id& peer);

}  // namespace tcpsec::ikesa

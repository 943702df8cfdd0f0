// Pre-shared key lookup in GatewayConfig.secrets.
#pragma once

#include <string_view>

#include "common/status.h"
#include "controlplane/crypto/secret_bytes.h"
#include "controlplane/message/payloads.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::ikeconfig {

// The key bytes of a SharedSecret.secret: "0x" + hex digits, else the text
// itself. Errors never include the secret.
Expected<ikecrypto::SecretBytes> decode_secret(std::string_view secret);

// The PSK shared with `remote_id` (the peer's identity as received, or as
// configured): the secret whose ids list an identity matching it
// (selectors::id_matches). Among several, one whose ids also match
// `local_id` wins, then the first. Error "no pre-shared key for
// fqdn:peer.example" (the caller answers AUTHENTICATION_FAILED).
Expected<ikecrypto::SecretBytes> secret_for(const v1::GatewayConfig& config,
                                            const ike::Id& local_id, const ike::Id& remote_id);
// Same with identities as configuration text ("fqdn:x", bare address, ...).
Expected<ikecrypto::SecretBytes> secret_for(const v1::GatewayConfig& config,
                                            std::string_view local_id, std::string_view remote_id);

}  // namespace tcpsec::ikeconfig

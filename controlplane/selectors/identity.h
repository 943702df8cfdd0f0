// IKE identities (ID payloads, RFC 7296 3.5) from configuration text, for
// logs, and matching a received identity against a configured one.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "controlplane/message/payloads.h"

namespace tcpsec::selectors {

// "fqdn:gw.example.com", "email:a@example.com", "ipv4:192.0.2.1",
// "ipv6:2001:db8::1", "dn:C=CH, O=tcpsec, CN=gw" (RDNs separated by ',',
// each TYPE=value with an OpenSSL short name; encoded as DER), or bare: an
// address -> ipv4/ipv6, text with '@' -> email, else an FQDN. FQDN labels:
// letters, digits, '-', '_' and a leading "*." wildcard (matching only).
Expected<ike::Id> parse_identity(std::string_view text);

// "fqdn:gw.example.com", "email:a@b", "ipv4:1.2.3.4", "ipv6:2001:db8::1",
// "dn:C=CH, O=tcpsec, CN=gw", else "<type>:<hex>". Never fails.
std::string to_string(const ike::Id& id);

// Whether a received identity matches a configured one: same type and
// value, FQDNs and the domain of emails without regard to case, DNs by
// X509_NAME_cmp; a configured "*.example.com" matches any name below
// example.com, "*@example.com" any mailbox there.
bool id_matches(const ike::Id& configured, const ike::Id& received);

// The identity of an address (when local_id / remote_id are not set).
ike::Id id_of_address(std::string_view address);

}  // namespace tcpsec::selectors

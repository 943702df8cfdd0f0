// The PSK site-to-site configuration the single-daemon IKE tests and the
// daemon fuzzer both negotiate with: 192.0.2.10 (a, initiator) and
// 192.0.2.20 (b, responder), 10.1.0.0/24 <-> 10.2.0.0/24, aes128-sha256-ecp256
// and aes128gcm16, one retransmission of 100 ms. Parsed, not validated: the
// caller checks the result its own way (gtest or abort).
#pragma once

#include <string>
#include <string_view>

#include "controlplane/config/gateway_config.h"

namespace tcpsec::daemon::testing {

inline constexpr const char* kSiteB = "192.0.2.20";  // the responder
inline constexpr const char* kSiteA = "192.0.2.10";

// `extra` is appended inside the connection (e.g. "dpd_delay_s: 1").
inline std::string site_config_text(bool responder, std::string_view extra = "") {
  const std::string us = responder ? kSiteB : kSiteA, peer = responder ? kSiteA : kSiteB;
  return std::string("dataplane_socket: \"/nonexistent/dp.sock\"\n") +
         "connections { name: \"site\" local_address: \"" + us + "\" remote_address: \"" + peer +
         "\" local_id: \"fqdn:" + (responder ? "b" : "a") +
         ".test\" remote_id: \"fqdn:" + (responder ? "a" : "b") +
         ".test\" ike_proposals: \"aes128-sha256-ecp256\" esp_proposals: \"aes128gcm16\" "
         "local_ts: \"" +
         (responder ? "10.2.0.0/24" : "10.1.0.0/24") + "\" remote_ts: \"" +
         (responder ? "10.1.0.0/24" : "10.2.0.0/24") + "\" " + std::string(extra) + " }\n" +
         "secrets { ids: \"fqdn:" + (responder ? "a" : "b") +
         ".test\" secret: \"a shared secret of some length\" }\n" +
         // Half-open IKE SAs expire after 100 + 200 ms.
         "timers { retransmit_ms: 100 retransmit_tries: 1 }\n";
}

}  // namespace tcpsec::daemon::testing

// with_defaults() (gateway_config.h).
#include "controlplane/config/gateway_config.h"
#include "controlplane/selectors/address.h"

namespace tcpsec::ikeconfig {

v1::GatewayConfig with_defaults(const v1::GatewayConfig& config) {
  v1::GatewayConfig c = config;
  auto fill = [](uint32_t value, uint32_t fallback) { return value != 0 ? value : fallback; };

  v1::IkeTimers& t = *c.mutable_timers();
  t.set_retransmit_ms(fill(t.retransmit_ms(), defaults::kRetransmitMs));
  t.set_retransmit_tries(fill(t.retransmit_tries(), defaults::kRetransmitTries));
  t.set_cookie_threshold(fill(t.cookie_threshold(), defaults::kCookieThreshold));

  for (v1::Connection& conn : *c.mutable_connections()) {
    if (conn.ike_proposals().empty()) {
      for (const char* p : defaults::kIkeProposals) conn.add_ike_proposals(p);
    }
    if (conn.esp_proposals().empty()) {
      for (const char* p : defaults::kEspProposals) conn.add_esp_proposals(p);
    }
    if (conn.local_auth() == v1::AUTH_KIND_UNSPECIFIED) conn.set_local_auth(v1::AUTH_KIND_PSK);
    if (conn.remote_auth() == v1::AUTH_KIND_UNSPECIFIED) conn.set_remote_auth(v1::AUTH_KIND_PSK);
    if (conn.local_id().empty()) conn.set_local_id(conn.local_address());
    if (conn.remote_id().empty() && selectors::Address::parse(conn.remote_address())) {
      conn.set_remote_id(conn.remote_address());
    }
    if (conn.mode() == v1::MODE_UNSPECIFIED) conn.set_mode(v1::MODE_TUNNEL);
    if (conn.remote_ts().empty() && !conn.address_pool().empty()) {
      conn.add_remote_ts(conn.address_pool());
    }
    v1::IkeTransport& tr = *conn.mutable_transport();
    if (tr.encapsulation() == v1::ENCAPSULATION_UNSPECIFIED) {
      tr.set_encapsulation(v1::ENCAPSULATION_UDP);
    }
    if (tr.tcp_flavor() == v1::TCP_FLAVOR_UNSPECIFIED) tr.set_tcp_flavor(v1::TCP_FLAVOR_PSEUDO);
    tr.set_remote_tcp_port(fill(tr.remote_tcp_port(), defaults::kRemoteTcpPort));
    tr.set_auto_fallback_retransmits(
        fill(tr.auto_fallback_retransmits(), defaults::kAutoFallbackRetransmits));
    conn.set_ike_lifetime_s(fill(conn.ike_lifetime_s(), defaults::kIkeLifetimeS));
    conn.set_child_lifetime_s(fill(conn.child_lifetime_s(), defaults::kChildLifetimeS));
  }
  return c;
}

}  // namespace tcpsec::ikeconfig

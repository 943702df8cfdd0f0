// tcpsecctl's IKE commands: the client of tcpsec-ike's Gateway service
// (proto/tcpsec/v1/gateway.proto) on its unix socket (GatewayConfig.unix_socket).
//
//   tcpsecctl [--ike-socket PATH] ike-sas [--json]
//   tcpsecctl [--ike-socket PATH] initiate NAME
//   tcpsecctl [--ike-socket PATH] terminate NAME
//   tcpsecctl [--ike-socket PATH] rekey NAME [--ike]
//   tcpsecctl [--ike-socket PATH] ike-watch [--count N] [--json]
//   tcpsecctl [--ike-socket PATH] ike-apply FILE
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tcpsec/v1/gateway.pb.h"

namespace tcpsecctl {

// tcpsec-ike's socket when neither --ike-socket nor $TCPSEC_IKE_SOCKET is
// given (config/ike-gateway.textproto's unix_socket).
inline constexpr const char* kDefaultIkeSocket = "/run/tcpsec/gateway.sock";

struct IkeOptions {
  std::string socket;   // the Gateway service's unix socket
  std::string command;  // one of the names is_ike_command() accepts
  std::vector<std::string> args;
  double timeout_s = 5;
  bool timeout_given = false;
  bool json = false;
  bool ike = false;  // rekey: the IKE SA, not its Child SAs
  long count = 0;    // ike-watch: exit after this many events (0: never)
};

// ike-sas, initiate, terminate, rekey, ike-watch, ike-apply.
bool is_ike_command(std::string_view command);
// Runs one IKE command (arguments already checked). Exit status as
// tcpsecctl's: 0 done, 1 tcpsec-ike unreachable or the call failed.
int run_ike(const IkeOptions& o);

// The ike-sas table: one row per IKE SA, an indented row per Child SA.
void print_ike_sas(const tcpsec::v1::ListIkeSasReply& r);
// One line: "12.345 site ike_up: 0123..._i 4567..._r aes128-... with fqdn:peer".
std::string describe_gateway_event(const tcpsec::v1::GatewayEvent& e);
// "-", "42s", "3m07s", "2h05m".
std::string age_text(double seconds);

}  // namespace tcpsecctl

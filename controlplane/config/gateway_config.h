// Loading, validating and completing tcpsec-ike's configuration
// (tcpsec.v1.GatewayConfig, proto/tcpsec/v1/gateway.proto), in the style of
// dataplane/config/config_loader.h:
//   auto cfg = load_gateway_config(path);                  // syntax
//   if (auto s = validate_gateway_config(*cfg); !s) ...;   // semantics
//   v1::GatewayConfig effective = with_defaults(*cfg);     // defaults
// load_validated_gateway_config() does all three. Nothing here throws or
// crashes on any input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/proto_file.h"
#include "common/status.h"
#include "tcpsec/v1/gateway.pb.h"

namespace tcpsec::ikeconfig {

using ConfigFormat = ProtoFormat;  // kText, kJson

inline constexpr size_t kMaxConfigBytes = kMaxProtoFileBytes;

// What with_defaults() fills in (mirrors gateway.proto's comments).
namespace defaults {
inline constexpr const char* kIkeProposals[] = {
    "aes128-sha256-ecp256", "aes256gcm16-prfsha384-ecp384", "aes128-sha256-modp2048"};
inline constexpr const char* kEspProposals[] = {"aes128gcm16", "aes128-sha256"};
inline constexpr uint32_t kIkeLifetimeS = 14400;
inline constexpr uint32_t kChildLifetimeS = 3600;
inline constexpr uint32_t kRetransmitMs = 1000;
inline constexpr uint32_t kRetransmitTries = 5;
inline constexpr uint32_t kCookieThreshold = 100;
inline constexpr uint32_t kRemoteTcpPort = 10000;
inline constexpr uint32_t kAutoFallbackRetransmits = 2;
}  // namespace defaults

// Limits validate_gateway_config() enforces beyond gateway.proto's rules
// (0 stays "the default" everywhere).
namespace limits {
inline constexpr size_t kMaxSocketPath = 107;  // sockaddr_un with its NUL
inline constexpr size_t kMaxNameLength = 64;
inline constexpr size_t kMinSecretBytes = 16;
inline constexpr size_t kMaxSecretBytes = 1024;
inline constexpr uint32_t kMinLifetimeS = 60;
inline constexpr uint32_t kMaxLifetimeS = 604800;  // a week
inline constexpr uint32_t kMaxDpdDelayS = 86400;
inline constexpr uint32_t kMinRetransmitMs = 100;
inline constexpr uint32_t kMaxRetransmitMs = 60000;
inline constexpr uint32_t kMaxRetransmitTries = 20;
inline constexpr uint32_t kMaxAutoFallbackRetransmits = 20;
inline constexpr int kMaxSelectors = 64;
}  // namespace limits

// Parses text format or proto3 JSON; unknown fields are errors. Errors read
// "<source>:LINE:COL: message" (text) or "<source>: message" (JSON).
Expected<v1::GatewayConfig> parse_gateway_config(std::string_view text, ConfigFormat format,
                                                 std::string_view source_name);
// JSON when the name ends in ".json" (any case), text otherwise. Relative
// file paths in it (ca_certificates, crl_files, local_certificate,
// local_private_key) are made relative to the file's directory.
Expected<v1::GatewayConfig> load_gateway_config(const std::string& path);

// Prefixes `base_dir` to the relative file paths named above.
void resolve_relative_paths(v1::GatewayConfig& config, const std::string& base_dir);

// The rules of gateway.proto; the first problem as "field.path: reason",
// e.g. "connections[1].ike_proposals[0]: unknown token 'aes999' in ...".
// Certificates: the files named must load (CA files hold CAs, the private
// key matches local_certificate, local_id is bound to it).
Status validate_gateway_config(const v1::GatewayConfig& config);

// A copy with every documented default filled in: proposals, lifetimes,
// timers, transport (encapsulation UDP, tcp_flavor PSEUDO, remote_tcp_port
// 10000, auto_fallback_retransmits 2), mode TUNNEL, auth PSK, local_id =
// local_address, remote_id = remote_address (when it is an address), and
// remote_ts = address_pool when remote_ts is empty. Validation of the copy
// succeeds whenever it succeeds on `config`.
v1::GatewayConfig with_defaults(const v1::GatewayConfig& config);

// load + validate (errors prefixed "<path>: ") + with_defaults.
Expected<v1::GatewayConfig> load_validated_gateway_config(const std::string& path);

}  // namespace tcpsec::ikeconfig

// Parsing and reading GatewayConfig files (gateway_config.h).
#include "controlplane/config/gateway_config.h"

namespace tcpsec::ikeconfig {

Expected<v1::GatewayConfig> parse_gateway_config(std::string_view text, ConfigFormat format,
                                                 std::string_view source_name) {
  v1::GatewayConfig config;
  if (auto s = parse_proto(text, format, source_name, config); !s) return s;
  return config;
}

Expected<v1::GatewayConfig> load_gateway_config(const std::string& path) {
  auto text = read_proto_file(path);
  if (!text) return text.status();
  auto config = parse_gateway_config(*text, proto_format_of(path), path);
  if (!config) return config;
  auto slash = path.rfind('/');
  if (slash != std::string::npos) resolve_relative_paths(*config, path.substr(0, slash + 1));
  return config;
}

void resolve_relative_paths(v1::GatewayConfig& config, const std::string& base_dir) {
  if (base_dir.empty()) return;
  std::string dir = base_dir.back() == '/' ? base_dir : base_dir + "/";
  auto fix = [&](std::string* p) {
    if (!p->empty() && (*p)[0] != '/') *p = dir + *p;
  };
  for (auto& p : *config.mutable_ca_certificates()) fix(&p);
  for (auto& p : *config.mutable_crl_files()) fix(&p);
  if (config.has_operator_endpoint()) {
    auto* e = config.mutable_operator_endpoint();
    fix(e->mutable_certificate());
    fix(e->mutable_private_key());
    fix(e->mutable_client_ca());
  }
  for (auto& c : *config.mutable_connections()) {
    fix(c.mutable_local_certificate());
    fix(c.mutable_local_private_key());
  }
}

Expected<v1::GatewayConfig> load_validated_gateway_config(const std::string& path) {
  auto config = load_gateway_config(path);
  if (!config) return config;
  if (auto s = validate_gateway_config(*config); !s)
    return Status::error(path + ": " + s.message());
  return with_defaults(*config);
}

}  // namespace tcpsec::ikeconfig

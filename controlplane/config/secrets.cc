#include "controlplane/config/secrets.h"

#include "controlplane/selectors/identity.h"

namespace tcpsec::ikeconfig {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool any_matches(const google::protobuf::RepeatedPtrField<std::string>& ids, const ike::Id& id) {
  for (const std::string& text : ids) {
    auto configured = selectors::parse_identity(text);
    if (configured && selectors::id_matches(*configured, id)) return true;
  }
  return false;
}

}  // namespace

Expected<ikecrypto::SecretBytes> decode_secret(std::string_view secret) {
  ikecrypto::SecretBytes out;
  if (secret.starts_with("0x") || secret.starts_with("0X")) {
    std::string_view hex = secret.substr(2);
    if (hex.empty() || hex.size() % 2 != 0) {
      return Status::error("hex secret needs an even, non-zero number of digits");
    }
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
      int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);
      if (hi < 0 || lo < 0) {
        return Status::error("hex secret has a non-hex character at offset " +
                             std::to_string(i + 2 + (hi < 0 ? 0 : 1)));
      }
      out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return out;
  }
  out.assign(secret.begin(), secret.end());
  return out;
}

Expected<ikecrypto::SecretBytes> secret_for(const v1::GatewayConfig& config,
                                            const ike::Id& local_id, const ike::Id& remote_id) {
  const v1::SharedSecret* best = nullptr;
  for (const v1::SharedSecret& s : config.secrets()) {
    if (!any_matches(s.ids(), remote_id)) continue;
    if (any_matches(s.ids(), local_id)) {
      best = &s;
      break;
    }
    if (!best) best = &s;
  }
  if (!best) return Status::error("no pre-shared key for " + selectors::to_string(remote_id));
  return decode_secret(best->secret());
}

Expected<ikecrypto::SecretBytes> secret_for(const v1::GatewayConfig& config,
                                            std::string_view local_id, std::string_view remote_id) {
  auto remote = selectors::parse_identity(remote_id);
  if (!remote) return Status::error("remote identity: " + remote.error());
  ike::Id local;  // an unset local identity matches nothing
  if (!local_id.empty()) {
    auto l = selectors::parse_identity(local_id);
    if (!l) return Status::error("local identity: " + l.error());
    local = *l;
  }
  return secret_for(config, local, *remote);
}

}  // namespace tcpsec::ikeconfig

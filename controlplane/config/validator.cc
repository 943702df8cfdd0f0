// validate_gateway_config() (gateway_config.h): the rules of gateway.proto,
// one function per message, each returning the first problem with its path.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "controlplane/certs/certs.h"
#include "controlplane/config/gateway_config.h"
#include "controlplane/config/secrets.h"
#include "controlplane/proposals/conversion.h"
#include "controlplane/proposals/proposal_spec.h"
#include "controlplane/selectors/address.h"
#include "controlplane/selectors/address_pool.h"
#include "controlplane/selectors/identity.h"
#include "controlplane/selectors/traffic_selector.h"

namespace tcpsec::ikeconfig {

namespace {

using selectors::Address;
using selectors::quote;

std::string at(std::string_view field, int index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

Status fail(const std::string& path, const std::string& reason) {
  return Status::error(path + ": " + reason);
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool is_any(const std::string& s) {
  return s.empty() || s == "%any";
}

bool is_unspecified(const Address& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool is_multicast(const Address& a) {
  return a.v6 ? a.bytes[0] == 0xff : a.bytes[0] >= 224;
}

Status socket_path(const std::string& path, const std::string& value, bool required) {
  if (value.empty()) return required ? fail(path, "must be set") : Status::ok();
  if (value.size() > limits::kMaxSocketPath) {
    return fail(path, "is " + std::to_string(value.size()) +
                          " bytes, a unix socket path holds at most " +
                          std::to_string(limits::kMaxSocketPath));
  }
  if (value.find('\0') != std::string::npos) return fail(path, "holds a NUL byte");
  if (value.back() == '/') return fail(path, "names a directory, not a socket file");
  return Status::ok();
}

Expected<Address> host_address(const std::string& text) {
  auto a = Address::parse(text);
  if (!a) return a;
  if (is_unspecified(*a)) return Status::error(quote(text) + " is the unspecified address");
  if (is_multicast(*a)) return Status::error(quote(text) + " is not a unicast address");
  return a;
}

Status lifetime(const std::string& path, uint32_t value) {
  if (value == 0 || (value >= limits::kMinLifetimeS && value <= limits::kMaxLifetimeS)) {
    return Status::ok();
  }
  return fail(path, std::to_string(value) + " is outside " + std::to_string(limits::kMinLifetimeS) +
                        "-" + std::to_string(limits::kMaxLifetimeS) + " seconds");
}

Status port(const std::string& path, uint32_t value, bool zero_ok) {
  if ((value == 0 && zero_ok) || (value >= 1 && value <= 65535)) return Status::ok();
  return fail(path, std::to_string(value) + " is not a TCP port (1-65535)");
}

class Validator {
 public:
  explicit Validator(const v1::GatewayConfig& c) : c_(c) {}

  Status run() {
    if (auto s = socket_path("dataplane_socket", c_.dataplane_socket(), true); !s) return s;
    if (auto s = socket_path("unix_socket", c_.unix_socket(), false); !s) return s;
    if (auto s = timers(); !s) return s;
    for (int i = 0; i < c_.tcp_listeners_size(); ++i) {
      if (auto s = listener(i); !s) return s;
    }
    for (int i = 0; i < c_.secrets_size(); ++i) {
      if (auto s = secret(i); !s) return s;
    }
    if (auto s = trust(); !s) return s;
    if (auto s = operator_endpoint(); !s) return s;
    for (int i = 0; i < c_.connections_size(); ++i) {
      if (auto s = connection(i); !s) return s;
    }
    return Status::ok();
  }

 private:
  Status timers() {
    const v1::IkeTimers& t = c_.timers();
    if (t.retransmit_ms() != 0 && (t.retransmit_ms() < limits::kMinRetransmitMs ||
                                   t.retransmit_ms() > limits::kMaxRetransmitMs)) {
      return fail("timers.retransmit_ms", std::to_string(t.retransmit_ms()) + " is outside " +
                                              std::to_string(limits::kMinRetransmitMs) + "-" +
                                              std::to_string(limits::kMaxRetransmitMs));
    }
    if (t.retransmit_tries() > limits::kMaxRetransmitTries) {
      return fail("timers.retransmit_tries", std::to_string(t.retransmit_tries()) +
                                                 " is more than the maximum, " +
                                                 std::to_string(limits::kMaxRetransmitTries));
    }
    return Status::ok();
  }

  Status listener(int i) {
    const v1::TcpListener& l = c_.tcp_listeners(i);
    const std::string path = at("tcp_listeners", i);
    auto a = Address::parse(l.address());
    if (l.address().empty()) return fail(path + ".address", "must be set");
    if (!a) return fail(path + ".address", a.error());
    if (is_multicast(*a)) return fail(path + ".address", quote(l.address()) + " is not unicast");
    if (l.ports().empty()) return fail(path + ".ports", "at least one port is required");
    for (int p = 0; p < l.ports_size(); ++p) {
      const std::string ppath = path + "." + at("ports", p);
      if (auto s = port(ppath, l.ports(p), false); !s) return s;
      auto [it, inserted] = listeners_.emplace(std::make_pair(*a, l.ports(p)), ppath);
      if (!inserted) {
        return fail(ppath, a->to_string() + " port " + std::to_string(l.ports(p)) +
                               " is already listed at " + it->second);
      }
    }
    return Status::ok();
  }

  Status secret(int i) {
    const v1::SharedSecret& s = c_.secrets(i);
    const std::string path = at("secrets", i);
    if (s.ids().empty()) return fail(path + ".ids", "at least one identity is required");
    for (int k = 0; k < s.ids_size(); ++k) {
      const std::string ipath = path + "." + at("ids", k);
      auto id = selectors::parse_identity(s.ids(k));
      if (!id) return fail(ipath, id.error());
      auto [it, inserted] = secret_ids_.emplace(selectors::to_string(*id), ipath);
      if (!inserted) {
        return fail(ipath, quote(s.ids(k)) + " is already listed at " + it->second);
      }
    }
    if (s.secret().empty()) return fail(path + ".secret", "must be set");
    auto bytes = decode_secret(s.secret());
    if (!bytes) return fail(path + ".secret", bytes.error());
    if (bytes->size() < limits::kMinSecretBytes) {
      return fail(path + ".secret", "is " + std::to_string(bytes->size()) +
                                        " bytes, a pre-shared key needs at least " +
                                        std::to_string(limits::kMinSecretBytes));
    }
    if (bytes->size() > limits::kMaxSecretBytes) {
      return fail(path + ".secret",
                  "is longer than " + std::to_string(limits::kMaxSecretBytes) + " bytes");
    }
    return Status::ok();
  }

  Status auth(const std::string& path, v1::AuthKind kind) {
    if (!v1::AuthKind_IsValid(kind))
      return fail(path, std::to_string(kind) + " is not an AuthKind");
    return Status::ok();
  }

  // operator_endpoint: TLS with client certificates; the files must load.
  Status operator_endpoint() {
    if (!c_.has_operator_endpoint()) return Status::ok();
    const auto& e = c_.operator_endpoint();
    const std::string path = "operator_endpoint";
    auto colon = e.listen().rfind(':');
    if (e.listen().empty() || colon == std::string::npos || colon == 0 ||
        colon + 1 == e.listen().size())
      return fail(path + ".listen", "'" + e.listen() + "' is not address:port");
    const std::string port = e.listen().substr(colon + 1);
    if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
      return fail(path + ".listen", "port '" + port + "' is not 1..65535");
    if (e.certificate().empty()) return fail(path + ".certificate", "required (PEM chain)");
    if (e.private_key().empty()) return fail(path + ".private_key", "required (PEM key)");
    if (e.client_ca().empty())
      return fail(path + ".client_ca", "required: operators must present client certificates");
    auto creds = certs::LocalCredentials::load(e.certificate(), e.private_key());
    if (!creds) return fail(path + ".certificate", creds.error());
    if (auto t = certs::TrustStore::load({e.client_ca()}, {}); !t)
      return fail(path + ".client_ca", t.error());
    return Status::ok();
  }

  // ca_certificates and crl_files: every file loads.
  Status trust() {
    for (int i = 0; i < c_.ca_certificates_size(); ++i) {
      if (auto t = certs::TrustStore::load({c_.ca_certificates(i)}, {}); !t)
        return fail(at("ca_certificates", i), t.error());
    }
    for (int i = 0; i < c_.crl_files_size(); ++i) {
      if (auto crls = certs::load_crls(c_.crl_files(i)); !crls)
        return fail(at("crl_files", i), crls.error());
    }
    return Status::ok();
  }

  // Certificates of a connection (local_auth / remote_auth PUBKEY).
  Status certificates(const std::string& path, const v1::Connection& c) {
    if (c.local_auth() != v1::AUTH_KIND_PUBKEY) {
      if (!c.local_certificate().empty())
        return fail(path + ".local_certificate", "is set but local_auth is not PUBKEY");
      if (!c.local_private_key().empty())
        return fail(path + ".local_private_key", "is set but local_auth is not PUBKEY");
    } else {
      if (c.local_certificate().empty())
        return fail(path + ".local_certificate", "must be set (local_auth is PUBKEY)");
      if (c.local_private_key().empty())
        return fail(path + ".local_private_key", "must be set (local_auth is PUBKEY)");
      if (auto chain = certs::load_certificates(c.local_certificate()); !chain)
        return fail(path + ".local_certificate", chain.error());
      auto creds = certs::LocalCredentials::load(c.local_certificate(), c.local_private_key());
      if (!creds) return fail(path + ".local_private_key", creds.error());
      auto id = c.local_id().empty()
                    ? Expected<ike::Id>(selectors::id_of_address(c.local_address()))
                    : selectors::parse_identity(c.local_id());
      if (!id) return fail(path + ".local_id", id.error());
      if (auto s = certs::check_identity(creds->certificate(), *id); !s) {
        return fail(path + ".local_id",
                    (c.local_id().empty() ? "not set, so our address is our identity: " : "") +
                        s.message());
      }
    }
    if (c.remote_auth() == v1::AUTH_KIND_PUBKEY && c_.ca_certificates().empty()) {
      return fail(path + ".remote_auth",
                  "PUBKEY needs trust anchors: ca_certificates lists no CA file");
    }
    return Status::ok();
  }

  Status selectors_list(const std::string& path,
                        const google::protobuf::RepeatedPtrField<std::string>& list) {
    if (list.size() > limits::kMaxSelectors) {
      return fail(path, std::to_string(list.size()) + " selectors, at most " +
                            std::to_string(limits::kMaxSelectors));
    }
    for (int k = 0; k < list.size(); ++k) {
      if (auto ts = selectors::from_prefix(list.Get(k)); !ts) return fail(at(path, k), ts.error());
    }
    return Status::ok();
  }

  Status connection(int i) {
    const v1::Connection& c = c_.connections(i);
    const std::string path = at("connections", i);

    const std::string& name = c.name();
    if (name.empty()) return fail(path + ".name", "must be set");
    if (name.size() > limits::kMaxNameLength ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
      return fail(path + ".name", quote(name) + " is not a connection name ([A-Za-z0-9_.-]{1,64})");
    }
    if (auto [it, inserted] = names_.emplace(name, i); !inserted) {
      return fail(path + ".name", "duplicate of " + at("connections", it->second));
    }

    if (c.local_address().empty()) return fail(path + ".local_address", "must be set");
    auto local = host_address(c.local_address());
    if (!local) return fail(path + ".local_address", local.error());
    if (!is_any(c.remote_address())) {
      auto remote = host_address(c.remote_address());
      if (!remote) return fail(path + ".remote_address", remote.error());
      if (remote->v6 != local->v6) {
        return fail(path + ".remote_address",
                    "is " + std::string(remote->v6 ? "IPv6" : "IPv4") + ", local_address is not");
      }
      if (*remote == *local) return fail(path + ".remote_address", "is local_address");
    }

    if (!c.local_id().empty()) {
      auto id = selectors::parse_identity(c.local_id());
      if (!id) return fail(path + ".local_id", id.error());
      if (c.local_id().find('*') != std::string::npos) {
        return fail(path + ".local_id", "a wildcard cannot be our own identity");
      }
    }
    if (!is_any(c.remote_id())) {
      if (auto id = selectors::parse_identity(c.remote_id()); !id) {
        return fail(path + ".remote_id", id.error());
      }
    }
    if (auto s = auth(path + ".local_auth", c.local_auth()); !s) return s;
    if (auto s = auth(path + ".remote_auth", c.remote_auth()); !s) return s;
    if (auto s = certificates(path, c); !s) return s;

    for (int k = 0; k < c.ike_proposals_size(); ++k) {
      const std::string ppath = path + "." + at("ike_proposals", k);
      auto spec = proposals::parse_ike_proposal(c.ike_proposals(k));
      if (!spec) return fail(ppath, spec.error());
      if (auto s = proposals::check_supported(*spec); !s) return fail(ppath, s.message());
    }
    for (int k = 0; k < c.esp_proposals_size(); ++k) {
      const std::string ppath = path + "." + at("esp_proposals", k);
      auto spec = proposals::parse_esp_proposal(c.esp_proposals(k));
      if (!spec) return fail(ppath, spec.error());
      if (auto s = proposals::check_installable(*spec); !s) return fail(ppath, s.message());
    }

    if (c.local_ts().empty()) return fail(path + ".local_ts", "at least one selector is required");
    if (auto s = selectors_list(path + ".local_ts", c.local_ts()); !s) return s;
    if (c.remote_ts().empty() && c.address_pool().empty()) {
      return fail(path + ".remote_ts", "at least one selector is required (or an address_pool)");
    }
    if (auto s = selectors_list(path + ".remote_ts", c.remote_ts()); !s) return s;

    if (!v1::Mode_IsValid(c.mode()))
      return fail(path + ".mode", std::to_string(c.mode()) + " is not a Mode");

    const v1::IkeTransport& t = c.transport();
    const std::string tpath = path + ".transport";
    if (!v1::IkeEncapsulation_IsValid(t.encapsulation())) {
      return fail(tpath + ".encapsulation",
                  std::to_string(t.encapsulation()) + " is not an Encapsulation");
    }
    if (!v1::TcpFlavor_IsValid(t.tcp_flavor())) {
      return fail(tpath + ".tcp_flavor", std::to_string(t.tcp_flavor()) + " is not a TcpFlavor");
    }
    if (t.tcp_flavor() == v1::TCP_FLAVOR_RFC9329) {
      return fail(tpath + ".tcp_flavor",
                  "RFC9329 (TCP stream encapsulation) is not implemented yet; use PSEUDO");
    }
    if (auto s = port(tpath + ".remote_tcp_port", t.remote_tcp_port(), true); !s) return s;
    if (t.auto_fallback_retransmits() > limits::kMaxAutoFallbackRetransmits) {
      return fail(tpath + ".auto_fallback_retransmits",
                  std::to_string(t.auto_fallback_retransmits()) + " is more than the maximum, " +
                      std::to_string(limits::kMaxAutoFallbackRetransmits));
    }

    if (auto s = lifetime(path + ".ike_lifetime_s", c.ike_lifetime_s()); !s) return s;
    if (auto s = lifetime(path + ".child_lifetime_s", c.child_lifetime_s()); !s) return s;
    if (c.dpd_delay_s() > limits::kMaxDpdDelayS) {
      return fail(path + ".dpd_delay_s", std::to_string(c.dpd_delay_s()) +
                                             " is more than the maximum, " +
                                             std::to_string(limits::kMaxDpdDelayS));
    }

    if (c.auto_start() && is_any(c.remote_address())) {
      return fail(path + ".auto_start", "needs remote_address (the peer to initiate to)");
    }
    if (c.request_virtual_ip() && is_any(c.remote_address())) {
      return fail(path + ".request_virtual_ip", "needs remote_address (an initiator asks for it)");
    }
    if (!c.address_pool().empty()) {
      if (c.request_virtual_ip()) {
        return fail(path + ".address_pool",
                    "a connection cannot both hand out and request a virtual address");
      }
      if (auto pool = selectors::AddressPool::create(c.address_pool()); !pool) {
        return fail(path + ".address_pool", pool.error());
      }
    }

    // PSK: a secret must exist for the peer, when we know its identity.
    bool psk = c.local_auth() != v1::AUTH_KIND_PUBKEY || c.remote_auth() != v1::AUTH_KIND_PUBKEY;
    std::string remote_id = !is_any(c.remote_id())        ? c.remote_id()
                            : !is_any(c.remote_address()) ? c.remote_address()
                                                          : "";
    if (psk && !remote_id.empty()) {
      std::string local_id = c.local_id().empty() ? c.local_address() : c.local_id();
      if (auto key = secret_for(c_, local_id, remote_id); !key) {
        return fail(path + (c.remote_id().empty() ? ".remote_address" : ".remote_id"),
                    "no secret in secrets lists " + quote(remote_id) + " (PSK authentication)");
      }
    }
    return Status::ok();
  }

  const v1::GatewayConfig& c_;
  std::map<std::string, int> names_;
  std::map<std::string, std::string> secret_ids_;
  std::map<std::pair<Address, uint32_t>, std::string> listeners_;
};

}  // namespace

Status validate_gateway_config(const v1::GatewayConfig& config) {
  return Validator(config).run();
}

}  // namespace tcpsec::ikeconfig

#include "dataplane/config/config_loader.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "common/proto_file.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/sad/sa_params.h"
#include "dataplane/spd/policy.h"

namespace tcpsec::config {

namespace {

using net::IpAddress;
using net::IpFamily;
using net::IpPrefix;

// ---------------------------------------------------------------------------
// Parsing

// ---------------------------------------------------------------------------
// Validation helpers

// `text` quoted for an error message: control bytes escaped, long text cut.
std::string quote(std::string_view text) {
  static constexpr size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += "'";
  return out;
}

std::string at(std::string_view field, int index) {
  return std::string(field) + "[" + std::to_string(index) + "]";
}

Status fail(const std::string& path, const std::string& reason) {
  return Status::error(path + ": " + reason);
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool is_multicast(const IpAddress& a) {
  // IPv4: 224/4 multicast and 240/4 reserved (incl. broadcast); IPv6: ff00::/8.
  return a.is_v4() ? a.bytes[0] >= 224 : a.bytes[0] == 0xff;
}

const char* family_name(const IpAddress& a) {
  return a.is_v4() ? "IPv4" : "IPv6";
}

// The longest address text inet_pton could accept, with some slack.
constexpr size_t kMaxAddressText = 64;

// A plain address (no "/length").
Expected<IpAddress> parse_address(std::string_view text) {
  if (text.empty()) return Status::error("must be set");
  if (text.find('/') != std::string_view::npos) {
    return Status::error(quote(text) + " must be an address without a prefix length");
  }
  if (text.size() > kMaxAddressText || text.find('\0') != std::string_view::npos) {
    return Status::error(quote(text) + " is not an IPv4 or IPv6 address");
  }
  auto a = IpAddress::parse(text);
  if (!a) return Status::error(quote(text) + " is not an IPv4 or IPv6 address");
  return a;
}

// A unicast host address: not unspecified, not multicast.
Expected<IpAddress> parse_host_address(std::string_view text) {
  auto a = parse_address(text);
  if (!a) return a;
  if (is_unspecified(*a)) return Status::error(quote(text) + " is the unspecified address");
  if (is_multicast(*a)) return Status::error(quote(text) + " is not a unicast address");
  return a;
}

Expected<IpPrefix> parse_prefix(std::string_view text, bool require_length) {
  if (text.empty()) return Status::error("must be set");
  auto slash = text.find('/');
  if (text.size() > kMaxAddressText + 4 || text.find('\0') != std::string_view::npos ||
      !IpAddress::parse(text.substr(0, slash))) {
    return Status::error(quote(text) + " is not an IPv4 or IPv6 address");
  }
  if (slash == std::string_view::npos && require_length) {
    return Status::error(quote(text) + " has no prefix length (write e.g. '192.0.2.1/24')");
  }
  auto p = IpPrefix::parse(text);
  if (!p) {
    return Status::error(quote(text) + " has a bad prefix length (0-32 for IPv4, 0-128 for IPv6)");
  }
  return p;
}

// `p` with every bit after its length cleared.
IpPrefix network_of(const IpPrefix& p) {
  IpPrefix n = p;
  size_t len = std::min<size_t>(p.length, p.address.size() * 8);
  for (size_t bit = len; bit < n.address.bytes.size() * 8; ++bit) {
    n.address.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return n;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "aa:bb:cc:dd:ee:ff", unicast and not all zero.
Status check_mac(std::string_view text) {
  if (text.empty()) return Status::error("must be set");
  std::array<uint8_t, 6> mac{};
  bool ok = text.size() == 17;
  for (size_t i = 0; ok && i < 6; ++i) {
    int hi = hex_digit(text[3 * i]), lo = hex_digit(text[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && text[3 * i + 2] != ':'))
      ok = false;
    else
      mac[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok) return Status::error(quote(text) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
  if (mac[0] & 0x01) return Status::error(quote(text) + " is a multicast MAC address");
  if (std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0; })) {
    return Status::error(quote(text) + " is the all-zero MAC address");
  }
  return Status::ok();
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Printable ASCII with no spaces: what DPDK devargs may hold.
bool is_devarg_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool is_hex_run(std::string_view s, size_t min, size_t max) {
  return s.size() >= min && s.size() <= max &&
         std::all_of(s.begin(), s.end(), [](char c) { return hex_digit(c) >= 0; });
}

// "[DDDD:]BB:DD.F[,devargs]".
bool is_pci_address(std::string_view text) {
  if (!is_devarg_text(text)) return false;
  std::string_view bdf = text.substr(0, text.find(','));
  auto dot = bdf.rfind('.');
  if (dot == std::string_view::npos || bdf.size() - dot != 2 || bdf[dot + 1] < '0' ||
      bdf[dot + 1] > '7') {
    return false;
  }
  std::string_view rest = bdf.substr(0, dot);  // [DDDD:]BB:DD
  auto c2 = rest.rfind(':');
  if (c2 == std::string_view::npos || !is_hex_run(rest.substr(c2 + 1), 2, 2)) return false;
  rest = rest.substr(0, c2);  // [DDDD:]BB
  auto c1 = rest.rfind(':');
  if (c1 == std::string_view::npos) return is_hex_run(rest, 2, 2);
  return is_hex_run(rest.substr(c1 + 1), 2, 2) && is_hex_run(rest.substr(0, c1), 4, 8);
}

// "driver_name[,devargs]", the name a letter followed by [A-Za-z0-9_].
bool is_vdev(std::string_view text) {
  if (!is_devarg_text(text)) return false;
  std::string_view name = text.substr(0, text.find(','));
  if (name.empty() || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z'))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) { return c != '-' && is_name_char(c); });
}

std::string tcp_port_error(uint64_t value) {
  return std::to_string(value) + " is not a TCP port (1-65535)";
}

Status check_at_most(const std::string& path, uint64_t value, uint64_t max, const char* unit = "") {
  if (value <= max) return Status::ok();
  return fail(path, std::to_string(value) + unit + " is more than the maximum, " +
                        std::to_string(max) + unit);
}

// An address owned by a port, for duplicate and ownership checks.
struct Owner {
  int port = 0;
  int index = 0;
};

std::string owner_path(const Owner& o) {
  return at("ports", o.port) + "." + at("addresses", o.index);
}

// ---------------------------------------------------------------------------
// The validator: one function per message, each returning the first problem.

class Validator {
 public:
  explicit Validator(const v1::DataplaneConfig& c) : c_(c) {}

  Status run() {
    if (auto s = eal(); !s) return s;
    if (auto s = ports(); !s) return s;
    if (auto s = routes(); !s) return s;
    if (auto s = neighbors(); !s) return s;
    if (auto s = pseudo_tcp(); !s) return s;
    if (auto s = workers(); !s) return s;
    if (auto s = buffers(); !s) return s;
    if (auto s = sas(); !s) return s;
    if (auto s = policies(); !s) return s;
    return rpc();
  }

 private:
  Status rpc() {
    const std::string& path = c_.rpc().unix_socket();
    if (path.empty()) return Status::ok();
    // sockaddr_un holds 108 bytes with the terminating NUL.
    if (path.size() > 107) {
      return fail("rpc.unix_socket", "is " + std::to_string(path.size()) +
                                         " bytes, a unix socket path holds at most 107");
    }
    if (path.find('\0') != std::string::npos) return fail("rpc.unix_socket", "holds a NUL byte");
    if (path.back() == '/') return fail("rpc.unix_socket", "names a directory, not a socket file");
    return Status::ok();
  }

  Status eal() {
    const auto& e = c_.eal();
    for (int i = 0; i < e.args_size(); ++i) {
      const std::string& a = e.args(i);
      std::string path = "eal." + at("args", i);
      if (a.empty()) return fail(path, "must not be empty");
      if (a.find('\0') != std::string::npos) return fail(path, "contains a NUL byte");
    }
    const std::string& fp = e.file_prefix();
    if (!fp.empty()) {
      bool ok = fp.size() <= 64 && fp[0] != '.' && std::all_of(fp.begin(), fp.end(), [](char c) {
                  return is_name_char(c) || c == '.';
                });
      if (!ok) {
        return fail(
            "eal.file_prefix",
            quote(fp) + " is not a file prefix ([A-Za-z0-9_.-]{1,64}, not starting with '.')");
      }
    }
    return check_at_most("eal.memory_mb", e.memory_mb(), limits::kMaxMemoryMb, " MiB");
  }

  Status ports() {
    if (c_.ports_size() == 0) return fail("ports", "at least one port is required");
    int local = -1;
    for (int i = 0; i < c_.ports_size(); ++i) {
      if (auto s = port(i); !s) return s;
      if (c_.ports(i).role() == v1::PORT_ROLE_LOCAL) {
        if (local >= 0) {
          return fail(at("ports", i) + ".role", "at most one port may be LOCAL, and " +
                                                    at("ports", local) + " (" +
                                                    quote(c_.ports(local).name()) + ") already is");
        }
        local = i;
      }
    }
    return Status::ok();
  }

  Status port(int i) {
    const v1::Port& p = c_.ports(i);
    const std::string path = at("ports", i);

    const std::string& name = p.name();
    if (name.empty()) return fail(path + ".name", "must be set");
    if (name.size() > limits::kMaxPortNameLength ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
      return fail(path + ".name", quote(name) + " is not a port name ([A-Za-z0-9_-]{1,32})");
    }
    if (auto [it, inserted] = port_names_.emplace(name, i); !inserted) {
      return fail(path + ".name",
                  "duplicate port name " + quote(name) + " (also " + at("ports", it->second) + ")");
    }

    switch (p.device_case()) {
      case v1::Port::kPci:
        if (p.pci().empty()) return fail(path + ".pci", "must not be empty");
        if (!is_pci_address(p.pci())) {
          return fail(path + ".pci",
                      quote(p.pci()) + " is not a PCI address ([DDDD:]BB:DD.F[,devargs])");
        }
        if (c_.eal().no_pci()) {
          return fail(path + ".pci", "eal.no_pci is set, so PCI devices are not probed");
        }
        break;
      case v1::Port::kVdev:
        if (p.vdev().empty()) return fail(path + ".vdev", "must not be empty");
        if (!is_vdev(p.vdev())) {
          return fail(path + ".vdev", quote(p.vdev()) +
                                          " is not a virtual device (driver0[,key=value...], "
                                          "no spaces)");
        }
        break;
      default:
        return fail(path, "exactly one of pci or vdev must be set");
    }

    if (p.role() == v1::PORT_ROLE_UNSPECIFIED) {
      return fail(path + ".role", "must be set (PUBLIC, PROTECTED or LOCAL)");
    }
    if (!v1::PortRole_IsValid(p.role())) {
      return fail(path + ".role", std::to_string(p.role()) + " is not a PortRole");
    }

    bool has_v6 = false;
    for (int a = 0; a < p.addresses_size(); ++a) {
      const std::string apath = path + "." + at("addresses", a);
      auto prefix = parse_prefix(p.addresses(a), true);
      if (!prefix) return fail(apath, prefix.error());
      const IpAddress& addr = prefix->address;
      if (is_unspecified(addr)) {
        return fail(apath, quote(p.addresses(a)) + " is the unspecified address");
      }
      if (is_multicast(addr)) return fail(apath, quote(p.addresses(a)) + " is not unicast");
      if (prefix->length == 0) return fail(apath, quote(p.addresses(a)) + " has prefix length 0");
      if (auto [it, inserted] = addresses_.emplace(addr, Owner{i, a}); !inserted) {
        return fail(apath, addr.to_string() + " is already assigned at " + owner_path(it->second));
      }
      has_v6 = has_v6 || addr.is_v6();
    }

    const std::string mpath = path + ".mtu";
    if (p.mtu() != 0) {
      if (p.mtu() < limits::kMinMtu || p.mtu() > limits::kMaxMtu) {
        return fail(mpath, std::to_string(p.mtu()) + " is outside " +
                               std::to_string(limits::kMinMtu) + "-" +
                               std::to_string(limits::kMaxMtu));
      }
      if (has_v6 && p.mtu() < limits::kMinMtuIpv6) {
        return fail(mpath, std::to_string(p.mtu()) +
                               " is below 1280, the IPv6 minimum, and the port has an IPv6 "
                               "address");
      }
    }

    if (auto s = check_at_most(path + ".rx_queues", p.rx_queues(), limits::kMaxQueues); !s) {
      return s;
    }
    if (auto s = check_at_most(path + ".tx_queues", p.tx_queues(), limits::kMaxQueues); !s) {
      return s;
    }
    if (auto s = descriptors(path + ".rx_descriptors", p.rx_descriptors()); !s) return s;
    if (auto s = descriptors(path + ".tx_descriptors", p.tx_descriptors()); !s) return s;

    if (!p.mac().empty()) {
      if (auto s = check_mac(p.mac()); !s) return fail(path + ".mac", s.message());
    }
    return Status::ok();
  }

  static Status descriptors(const std::string& path, uint32_t n) {
    if (n == 0) return Status::ok();
    bool power_of_two = (n & (n - 1)) == 0;
    if (n < limits::kMinDescriptors || n > limits::kMaxDescriptors || !power_of_two) {
      return fail(path, std::to_string(n) + " is not a power of two in " +
                            std::to_string(limits::kMinDescriptors) + "-" +
                            std::to_string(limits::kMaxDescriptors));
    }
    return Status::ok();
  }

  Status port_ref(const std::string& path, const std::string& name) {
    if (name.empty()) return fail(path, "must be set");
    if (port_names_.count(name) == 0) return fail(path, "no port named " + quote(name));
    return Status::ok();
  }

  // `a` must not be one of our own addresses.
  Status not_ours(const std::string& path, const IpAddress& a) {
    if (auto it = addresses_.find(a); it != addresses_.end()) {
      return fail(path, a.to_string() + " is our own address (" + owner_path(it->second) + ")");
    }
    return Status::ok();
  }

  Status routes() {
    std::map<std::pair<IpAddress, uint8_t>, int> seen;
    for (int i = 0; i < c_.routes_size(); ++i) {
      const v1::Route& r = c_.routes(i);
      const std::string path = at("routes", i);

      auto prefix = parse_prefix(r.prefix(), false);
      if (!prefix) return fail(path + ".prefix", prefix.error());
      IpPrefix net = network_of(*prefix);
      if (net.address != prefix->address) {
        return fail(path + ".prefix", quote(r.prefix()) +
                                          " has bits set after the prefix length (did you mean " +
                                          net.to_string() + "?)");
      }
      if (auto [it, inserted] = seen.emplace(std::make_pair(net.address, net.length), i);
          !inserted) {
        return fail(path + ".prefix",
                    net.to_string() + " is already routed by " + at("routes", it->second));
      }

      if (!r.next_hop().empty()) {
        auto hop = parse_host_address(r.next_hop());
        if (!hop) return fail(path + ".next_hop", hop.error());
        if (hop->family != net.address.family) {
          return fail(path + ".next_hop", std::string(family_name(*hop)) + " next hop " +
                                              quote(r.next_hop()) + " for an " +
                                              family_name(net.address) + " prefix");
        }
        if (auto s = not_ours(path + ".next_hop", *hop); !s) return s;
      }

      if (auto s = port_ref(path + ".port", r.port()); !s) return s;
    }
    return Status::ok();
  }

  Status neighbors() {
    std::map<std::pair<std::string, IpAddress>, int> seen;
    for (int i = 0; i < c_.neighbors_size(); ++i) {
      const v1::Neighbor& n = c_.neighbors(i);
      const std::string path = at("neighbors", i);

      auto addr = parse_host_address(n.address());
      if (!addr) return fail(path + ".address", addr.error());
      if (auto s = not_ours(path + ".address", *addr); !s) return s;
      if (auto s = check_mac(n.mac()); !s) return fail(path + ".mac", s.message());
      if (auto s = port_ref(path + ".port", n.port()); !s) return s;
      if (auto [it, inserted] = seen.emplace(std::make_pair(n.port(), *addr), i); !inserted) {
        return fail(path + ".address", addr->to_string() + " on port " + quote(n.port()) +
                                           " is already listed at " + at("neighbors", it->second));
      }
    }
    return Status::ok();
  }

  Status pseudo_tcp() {
    const v1::PseudoTcp& pt = c_.pseudo_tcp();
    if (auto s = listeners(pt); !s) return s;
    if (auto s = peers(pt); !s) return s;

    struct Limit {
      const char* field;
      uint32_t value;
      uint32_t max;
      const char* unit;
    };
    const Limit limits_to_check[] = {
        {"handshake_timeout_ms", pt.handshake_timeout_ms(), limits::kMaxTimerMs, " ms"},
        {"syn_retransmit_ms", pt.syn_retransmit_ms(), limits::kMaxTimerMs, " ms"},
        {"ike_grace_s", pt.ike_grace_s(), limits::kMaxIkeGraceS, " s"},
        {"idle_timeout_s", pt.idle_timeout_s(), limits::kMaxIdleTimeoutS, " s"},
        {"close_delay_ms", pt.close_delay_ms(), limits::kMaxTimerMs, " ms"},
        {"max_connections", pt.max_connections(), limits::kMaxConnections, ""},
        {"max_sas_per_connection", pt.max_sas_per_connection(), limits::kMaxSasPerConnection, ""},
        {"hold_queue_packets", pt.hold_queue_packets(), limits::kMaxHoldQueuePackets, ""},
    };
    for (const Limit& l : limits_to_check) {
      if (auto s = check_at_most(std::string("pseudo_tcp.") + l.field, l.value, l.max, l.unit);
          !s) {
        return s;
      }
    }
    uint32_t handshake =
        pt.handshake_timeout_ms() ? pt.handshake_timeout_ms() : defaults::kHandshakeTimeoutMs;
    uint32_t syn = pt.syn_retransmit_ms() ? pt.syn_retransmit_ms() : defaults::kSynRetransmitMs;
    if (syn > handshake) {
      return fail("pseudo_tcp.syn_retransmit_ms", std::to_string(syn) +
                                                      " ms is longer than the handshake timeout (" +
                                                      std::to_string(handshake) + " ms)");
    }

    if (pt.has_local_port_range()) {
      const v1::PortRange& r = pt.local_port_range();
      if (r.min() != 0 || r.max() != 0) {
        if (r.min() == 0 || r.min() > 65535) {
          return fail("pseudo_tcp.local_port_range.min", tcp_port_error(r.min()));
        }
        if (r.max() == 0 || r.max() > 65535) {
          return fail("pseudo_tcp.local_port_range.max", tcp_port_error(r.max()));
        }
        if (r.min() > r.max()) {
          return fail(
              "pseudo_tcp.local_port_range",
              "min " + std::to_string(r.min()) + " is greater than max " + std::to_string(r.max()));
        }
      }
    }
    return connections(pt);
  }

  Status connections(const v1::PseudoTcp& pt) {
    uint32_t max_sas =
        pt.max_sas_per_connection() ? pt.max_sas_per_connection() : defaults::kMaxSasPerConnection;
    std::map<std::tuple<IpAddress, IpAddress, uint32_t, uint32_t>, int> flows;
    std::map<std::tuple<IpAddress, IpAddress, uint64_t>, int> spis;
    for (int i = 0; i < pt.connections_size(); ++i) {
      const v1::PseudoTcpConnection& c = pt.connections(i);
      const std::string path = "pseudo_tcp." + at("connections", i);
      auto local = parse_host_address(c.local_address());
      if (!local) return fail(path + ".local_address", local.error());
      auto owner = addresses_.find(*local);
      if (owner == addresses_.end() ||
          c_.ports(owner->second.port).role() != v1::PORT_ROLE_PUBLIC) {
        return fail(path + ".local_address",
                    local->to_string() + " is not an address of a PUBLIC port");
      }
      auto peer = parse_host_address(c.peer_address());
      if (!peer) return fail(path + ".peer_address", peer.error());
      if (auto s = not_ours(path + ".peer_address", *peer); !s) return s;
      if (peer->family != local->family) {
        return fail(path + ".peer_address", "is not of the local address's family");
      }
      if (c.local_port() == 0 || c.local_port() > 65535) {
        return fail(path + ".local_port", tcp_port_error(c.local_port()));
      }
      if (c.peer_port() == 0 || c.peer_port() > 65535) {
        return fail(path + ".peer_port", tcp_port_error(c.peer_port()));
      }
      auto flow = std::make_tuple(*local, *peer, c.local_port(), c.peer_port());
      if (auto [it, inserted] = flows.emplace(flow, i); !inserted) {
        return fail(path,
                    "the same addresses and ports as pseudo_tcp." + at("connections", it->second));
      }
      if (c.ike_initiator_spis_size() > 2) {
        return fail(path + ".ike_initiator_spis",
                    "at most 2 (the current IKE SA and the one it is rekeyed from)");
      }
      for (int j = 0; j < c.ike_initiator_spis_size(); ++j) {
        if (c.ike_initiator_spis(j) == 0) {
          return fail(path + "." + at("ike_initiator_spis", j), "0 is not an IKE SPI");
        }
        auto key = std::make_tuple(*local, *peer, c.ike_initiator_spis(j));
        if (auto [it, inserted] = spis.emplace(key, i); !inserted) {
          return fail(path + "." + at("ike_initiator_spis", j),
                      "already mapped by pseudo_tcp." + at("connections", it->second));
        }
      }
      if (static_cast<uint32_t>(c.esp_spis_size()) > max_sas) {
        return fail(path + ".esp_spis", std::to_string(c.esp_spis_size()) +
                                            " SPIs exceed max_sas_per_connection (" +
                                            std::to_string(max_sas) + ")");
      }
      for (int j = 0; j < c.esp_spis_size(); ++j) {
        if (c.esp_spis(j) == 0) return fail(path + "." + at("esp_spis", j), "0 is not an ESP SPI");
        // ESP keys share no space with IKE ones: tag them apart.
        auto key = std::make_tuple(*local, *peer, (uint64_t{1} << 63) | c.esp_spis(j));
        if (auto [it, inserted] = spis.emplace(key, i); !inserted) {
          return fail(path + "." + at("esp_spis", j),
                      "already mapped by pseudo_tcp." + at("connections", it->second));
        }
      }
    }
    return Status::ok();
  }

  Status listeners(const v1::PseudoTcp& pt) {
    // Key: address (0.0.0.0 or :: for a family's wildcard), port.
    std::map<std::pair<IpAddress, uint32_t>, std::string> seen;
    for (int i = 0; i < pt.listeners_size(); ++i) {
      const v1::Listener& l = pt.listeners(i);
      const std::string path = "pseudo_tcp." + at("listeners", i);

      auto addr = parse_address(l.address());
      if (!addr) {
        std::string reason = addr.error();
        if (l.address().empty()) reason += " (use 0.0.0.0 or :: for every address)";
        return fail(path + ".address", reason);
      }
      IpAddress key = *addr;
      // 0.0.0.0 is every IPv4 address of ours, :: every IPv6 one.
      if (is_unspecified(key)) {
      } else if (addresses_.count(key) == 0) {
        return fail(path + ".address", key.to_string() + " is not an address of any port");
      }

      if (l.ports_size() == 0) return fail(path + ".ports", "at least one port is required");
      for (int j = 0; j < l.ports_size(); ++j) {
        const std::string ppath = path + "." + at("ports", j);
        uint32_t port = l.ports(j);
        if (port == 0 || port > 65535) return fail(ppath, tcp_port_error(port));
        if (auto [it, inserted] = seen.emplace(std::make_pair(key, port), ppath); !inserted) {
          std::string where = is_unspecified(key)
                                  ? "every IP" + std::string(key.is_v4() ? "v4" : "v6") + " address"
                                  : key.to_string();
          return fail(ppath, where + " port " + std::to_string(port) + " is already listed at " +
                                 it->second);
        }
      }
    }
    return Status::ok();
  }

  Status peers(const v1::PseudoTcp& pt) {
    std::map<IpAddress, int> seen;
    for (int i = 0; i < pt.peers_size(); ++i) {
      const v1::TcpPeer& p = pt.peers(i);
      const std::string path = "pseudo_tcp." + at("peers", i);

      auto addr = parse_host_address(p.address());
      if (!addr) return fail(path + ".address", addr.error());
      if (auto s = not_ours(path + ".address", *addr); !s) return s;
      // The dataplane finds a peer by its address alone.
      if (auto [it, inserted] = seen.emplace(*addr, i); !inserted) {
        return fail(path + ".address", addr->to_string() + " is already a peer (" + "pseudo_tcp." +
                                           at("peers", it->second) + ")");
      }
      // 0 means the default for both.
      if (p.remote_port() > 65535)
        return fail(path + ".remote_port", tcp_port_error(p.remote_port()));
      if (p.local_port() > 65535) return fail(path + ".local_port", tcp_port_error(p.local_port()));
    }
    return Status::ok();
  }

  Status workers() {
    const v1::Workers& w = c_.workers();
    if (auto s = check_at_most("workers.count", w.count(), limits::kMaxWorkers); !s) return s;
    if (auto s = check_at_most("workers.idle_sleep_us", w.idle_sleep_us(), limits::kMaxIdleSleepUs,
                               " us");
        !s) {
      return s;
    }
    return check_at_most("workers.burst_size", w.burst_size(), limits::kMaxBurstSize);
  }

  Status buffers() {
    const uint32_t n = c_.buffers().mbufs();
    if (n != 0 && n < limits::kMinMbufs) {
      return fail("buffers.mbufs", std::to_string(n) + " is less than the minimum, " +
                                       std::to_string(limits::kMinMbufs));
    }
    return check_at_most("buffers.mbufs", n, limits::kMaxMbufs);
  }

  // ---- IPsec: security associations and policies (ipsec.proto) ----

  static const char* direction_name(int d) {
    return d == v1::DIRECTION_INBOUND ? "INBOUND" : "OUTBOUND";
  }

  static std::string spi_text(uint32_t spi) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s = "0x";
    for (int shift = 28; shift >= 0; shift -= 4) s += kHex[(spi >> shift) & 0xf];
    return s;
  }

  // A required enum: 0 is "not set", `valid` says whether a set value is known.
  static Status required_enum(const std::string& path, int value, bool valid, const char* type,
                              const char* choices) {
    if (value == 0) return fail(path, std::string("must be set (") + choices + ")");
    if (!valid) return fail(path, std::to_string(value) + " is not a" + type);
    return Status::ok();
  }

  // An optional operator's label, unique within `list` when set.
  static Status label(const std::string& path, const std::string& name, const char* list, int index,
                      std::map<std::string, int>& seen) {
    if (name.empty()) return Status::ok();
    if (name.size() > sad::kMaxNameLength) {
      return fail(path, quote(name) + " is longer than " + std::to_string(sad::kMaxNameLength) +
                            " characters");
    }
    if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; })) {
      return fail(path, quote(name) + " holds characters other than printable ASCII");
    }
    if (auto [it, inserted] = seen.emplace(name, index); !inserted) {
      return fail(path, quote(name) + " is already the name of " + at(list, it->second));
    }
    return Status::ok();
  }

  static bool has_ports(uint32_t protocol) {
    return protocol == 6 || protocol == 17 || protocol == 132;  // TCP, UDP, SCTP
  }

  static Status selector_ports(const std::string& path, const v1::SelectorPortRange& r,
                               uint32_t protocol) {
    if (r.min() == 0 && r.max() == 0) return Status::ok();  // any
    if (r.min() > 65535)
      return fail(path + ".min", std::to_string(r.min()) + " is not a port (0-65535)");
    if (r.max() > 65535)
      return fail(path + ".max", std::to_string(r.max()) + " is not a port (0-65535)");
    if (r.min() > r.max()) {
      return fail(path, "min " + std::to_string(r.min()) + " is greater than max " +
                            std::to_string(r.max()));
    }
    if (!has_ports(protocol) && !(r.min() == 0 && r.max() == 65535)) {
      return fail(path, "a port range needs protocol TCP (6), UDP (17) or SCTP (132), not " +
                            std::to_string(protocol));
    }
    return Status::ok();
  }

  // The families (bit 0 IPv4, bit 1 IPv6) of a prefix list, or an error.
  static Expected<unsigned> selector_prefixes(
      const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& list) {
    if (static_cast<uint32_t>(list.size()) > spd::kMaxSelectorPrefixes) {
      return fail(path, std::to_string(list.size()) + " prefixes, more than the maximum, " +
                            std::to_string(spd::kMaxSelectorPrefixes));
    }
    unsigned families = 0;
    for (int j = 0; j < list.size(); ++j) {
      const std::string ppath = path + "[" + std::to_string(j) + "]";
      auto prefix = parse_prefix(list.Get(j), false);
      if (!prefix) return fail(ppath, prefix.error());
      IpPrefix net = network_of(*prefix);
      if (net.address != prefix->address) {
        return fail(ppath, quote(list.Get(j)) +
                               " has bits set after the prefix length (did you mean " +
                               net.to_string() + "?)");
      }
      families |= prefix->address.is_v4() ? 1u : 2u;
    }
    return families;
  }

  static Status selector(const std::string& path, const v1::TrafficSelector& s) {
    auto local = selector_prefixes(path + ".local_prefixes", s.local_prefixes());
    if (!local) return local.status();
    auto remote = selector_prefixes(path + ".remote_prefixes", s.remote_prefixes());
    if (!remote) return remote.status();
    if (*local != 0 && *remote != 0 && (*local & *remote) == 0) {
      return fail(path,
                  "local_prefixes and remote_prefixes share no address family (the "
                  "selector would match nothing)");
    }
    if (s.protocol() > 255) {
      return fail(path + ".protocol",
                  std::to_string(s.protocol()) + " is not an IP protocol number (0-255)");
    }
    if (auto st = selector_ports(path + ".local_ports", s.local_ports(), s.protocol()); !st) {
      return st;
    }
    return selector_ports(path + ".remote_ports", s.remote_ports(), s.protocol());
  }

  static Status lifetimes(const std::string& path, const v1::SecurityAssociation& sa) {
    const v1::Lifetime& soft = sa.soft();
    const v1::Lifetime& hard = sa.hard();
    if (auto s =
            check_at_most(path + ".soft.seconds", soft.seconds(), sad::kMaxLifetimeSeconds, " s");
        !s) {
      return s;
    }
    if (auto s =
            check_at_most(path + ".hard.seconds", hard.seconds(), sad::kMaxLifetimeSeconds, " s");
        !s) {
      return s;
    }
    struct Pair {
      const char* field;
      uint64_t soft, hard;
    };
    const Pair pairs[] = {{"bytes", soft.bytes(), hard.bytes()},
                          {"packets", soft.packets(), hard.packets()},
                          {"seconds", soft.seconds(), hard.seconds()}};
    for (const Pair& p : pairs) {
      if (p.hard != 0 && p.soft > p.hard) {
        return fail(path + ".soft." + p.field, std::to_string(p.soft) + " is more than hard." +
                                                   p.field + " (" + std::to_string(p.hard) + ")");
      }
    }
    if (!sa.esn()) {
      for (const auto& [field, value] : {std::pair{".hard.packets", hard.packets()},
                                         std::pair{".soft.packets", soft.packets()}}) {
        if (value > sad::kMaxPacketsWithoutEsn) {
          return fail(path + field, std::to_string(value) + " is more than " +
                                        std::to_string(sad::kMaxPacketsWithoutEsn) +
                                        ", the 32-bit sequence number space (set esn)");
        }
      }
    }
    return Status::ok();
  }

  static Status keys(const std::string& path, const v1::SecurityAssociation& sa,
                     const sad::EspAlgorithmInfo& alg) {
    const size_t enc = sa.encryption_key().size();
    const size_t integ = sa.integrity_key().size();
    // Only lengths: key bytes are never printed.
    if (alg.encryption_key_bytes() == 0) {
      if (enc != 0) {
        return fail(path + ".encryption_key", std::string(alg.name) +
                                                  " takes no encryption key, got " +
                                                  std::to_string(enc) + " bytes");
      }
    } else if (enc != alg.encryption_key_bytes()) {
      std::string need =
          std::string(alg.name) + " needs " + std::to_string(alg.encryption_key_bytes()) + " bytes";
      if (alg.salt_bytes != 0) {
        need += " (" + std::to_string(alg.cipher_key_bytes) + " key + " +
                std::to_string(alg.salt_bytes) + " salt)";
      }
      return fail(path + ".encryption_key", need + ", got " + std::to_string(enc));
    }
    if (alg.integrity_key_bytes == 0) {
      if (integ != 0) {
        return fail(path + ".integrity_key", std::string(alg.name) +
                                                 " is an AEAD and takes no integrity key, got " +
                                                 std::to_string(integ) + " bytes");
      }
    } else if (integ != alg.integrity_key_bytes) {
      return fail(path + ".integrity_key", std::string(alg.name) + " needs " +
                                               std::to_string(alg.integrity_key_bytes) +
                                               " bytes, got " + std::to_string(integ));
    }
    return Status::ok();
  }

  static Status encapsulation(const std::string& path, const v1::Encapsulation& e) {
    auto port = [](const std::string& p, uint32_t value, const char* proto) {
      if (value <= 65535) return Status::ok();  // 0: the default
      return fail(p, std::to_string(value) + " is not a " + proto + " port (1-65535)");
    };
    if (e.has_udp()) {
      if (auto s = port(path + ".udp.local_port", e.udp().local_port(), "UDP"); !s) return s;
      return port(path + ".udp.peer_port", e.udp().peer_port(), "UDP");
    }
    if (e.has_pseudo_tcp()) {
      if (auto s = port(path + ".pseudo_tcp.local_port", e.pseudo_tcp().local_port(), "TCP"); !s)
        return s;
      return port(path + ".pseudo_tcp.peer_port", e.pseudo_tcp().peer_port(), "TCP");
    }
    return Status::ok();
  }

  // Tunnel endpoints: our PUBLIC address and the peer's, or none in
  // transport mode. Sets `local` to tunnel_local (none in transport mode).
  Status endpoints(const std::string& path, const v1::SecurityAssociation& sa,
                   std::optional<IpAddress>& local) {
    local.reset();
    if (sa.mode() == v1::MODE_TRANSPORT) {
      if (!sa.tunnel_local().empty()) {
        return fail(path + ".tunnel_local", "must be empty in TRANSPORT mode");
      }
      if (!sa.tunnel_peer().empty()) {
        return fail(path + ".tunnel_peer", "must be empty in TRANSPORT mode");
      }
      return Status::ok();
    }
    auto l = parse_host_address(sa.tunnel_local());
    if (!l) return fail(path + ".tunnel_local", l.error());
    auto owner = addresses_.find(*l);
    if (owner == addresses_.end() || c_.ports(owner->second.port).role() != v1::PORT_ROLE_PUBLIC) {
      return fail(path + ".tunnel_local", l->to_string() + " is not an address of a PUBLIC port");
    }
    auto p = parse_host_address(sa.tunnel_peer());
    if (!p) return fail(path + ".tunnel_peer", p.error());
    if (auto s = not_ours(path + ".tunnel_peer", *p); !s) return s;
    if (p->family != l->family) {
      return fail(path + ".tunnel_peer", std::string(family_name(*p)) + " address " +
                                             quote(sa.tunnel_peer()) + " but tunnel_local is " +
                                             family_name(*l));
    }
    local = *l;
    return Status::ok();
  }

  Status sas() {
    if (static_cast<uint32_t>(c_.sas_size()) > sad::kMaxSas) {
      return fail("sas", std::to_string(c_.sas_size()) + " SAs, more than the maximum, " +
                             std::to_string(sad::kMaxSas));
    }
    std::map<uint32_t, int> outbound;  // SPI -> index
    // Inbound SPI -> (tunnel_local or none, index).
    std::multimap<uint32_t, std::pair<std::optional<IpAddress>, int>> inbound;
    std::map<std::string, int> names;
    for (int i = 0; i < c_.sas_size(); ++i) {
      const v1::SecurityAssociation& sa = c_.sas(i);
      const std::string path = at("sas", i);

      if (sa.spi() == 0) {
        return fail(path + ".spi", "must be set (256 or more: 0-255 are reserved, RFC 4303)");
      }
      if (sa.spi() < sad::kMinSpi) {
        return fail(path + ".spi", std::to_string(sa.spi()) +
                                       " is reserved (0-255 are, RFC 4303); use 256 or more");
      }
      if (auto s = required_enum(path + ".direction", sa.direction(),
                                 v1::Direction_IsValid(sa.direction()), " Direction",
                                 "INBOUND or OUTBOUND");
          !s) {
        return s;
      }
      if (auto s = required_enum(path + ".mode", sa.mode(), v1::Mode_IsValid(sa.mode()), " Mode",
                                 "TUNNEL or TRANSPORT");
          !s) {
        return s;
      }
      std::optional<IpAddress> local;
      if (auto s = endpoints(path, sa, local); !s) return s;

      const bool is_inbound = sa.direction() == v1::DIRECTION_INBOUND;
      if (!is_inbound) {
        if (auto [it, inserted] = outbound.emplace(sa.spi(), i); !inserted) {
          return fail(path + ".spi", "OUTBOUND SPI " + spi_text(sa.spi()) + " is already used by " +
                                         at("sas", it->second));
        }
      } else {
        // An inbound SA is found by (SPI, tunnel_local); one without
        // tunnel_local by its SPI alone, so that SPI must be its own.
        auto [first, last] = inbound.equal_range(sa.spi());
        for (auto it = first; it != last; ++it) {
          const auto& [other_local, other] = it->second;
          if (!other_local || !local || *other_local == *local) {
            std::string where = local && other_local ? " on " + local->to_string() : "";
            return fail(path + ".spi", "INBOUND SPI " + spi_text(sa.spi()) + where +
                                           " is already used by " + at("sas", other));
          }
        }
        inbound.emplace(sa.spi(), std::make_pair(local, i));
      }

      auto alg = sad::esp_algorithm(sa.algorithm());
      if (auto s = required_enum(path + ".algorithm", sa.algorithm(), alg.has_value(),
                                 "n EspAlgorithm", "e.g. AES_GCM_256");
          !s) {
        return s;
      }
      if (auto s = keys(path, sa, *alg); !s) return s;

      if (!is_inbound && sa.replay_window() != 0) {
        return fail(path + ".replay_window", "only INBOUND SAs have a replay window");
      }
      if (auto s = check_at_most(path + ".replay_window", sa.replay_window(), sad::kMaxReplayWindow,
                                 " packets");
          !s) {
        return s;
      }
      if (auto s = lifetimes(path, sa); !s) return s;
      if (auto s = encapsulation(path + ".encapsulation", sa.encapsulation()); !s) return s;
      if (auto s = selector(path + ".selector", sa.selector()); !s) return s;
      if (auto s = label(path + ".name", sa.name(), "sas", i, names); !s) return s;
      sa_spis_.emplace(sa.direction(), sa.spi());
    }
    return Status::ok();
  }

  Status policies() {
    if (static_cast<uint32_t>(c_.policies_size()) > spd::kMaxPolicies) {
      return fail("policies", std::to_string(c_.policies_size()) +
                                  " policies, more than the maximum, " +
                                  std::to_string(spd::kMaxPolicies));
    }
    std::map<std::pair<int, uint32_t>, int> priorities;  // (direction, priority) -> index
    std::map<std::string, int> names;
    for (int i = 0; i < c_.policies_size(); ++i) {
      const v1::Policy& p = c_.policies(i);
      const std::string path = at("policies", i);

      if (auto s = label(path + ".name", p.name(), "policies", i, names); !s) return s;
      if (auto s = required_enum(path + ".direction", p.direction(),
                                 v1::Direction_IsValid(p.direction()), " Direction",
                                 "INBOUND or OUTBOUND");
          !s) {
        return s;
      }
      if (auto [it, inserted] = priorities.emplace(std::make_pair(p.direction(), p.priority()), i);
          !inserted) {
        return fail(path + ".priority",
                    std::to_string(p.priority()) + " is already the priority of " +
                        at("policies", it->second) + " (" + direction_name(p.direction()) +
                        "); priorities are unique per direction");
      }
      if (auto s = selector(path + ".match", p.match()); !s) return s;
      if (auto s = required_enum(path + ".action", p.action(), v1::PolicyAction_IsValid(p.action()),
                                 " PolicyAction", "PROTECT, BYPASS or DISCARD");
          !s) {
        return s;
      }
      const char* dir = direction_name(p.direction());
      if (p.action() == v1::POLICY_ACTION_PROTECT) {
        if (p.sa_spi() == 0) {
          return fail(path + ".sa_spi",
                      std::string("must be set for PROTECT (the SPI of an ") + dir + " SA)");
        }
        if (sa_spis_.count({p.direction(), p.sa_spi()}) == 0) {
          return fail(path + ".sa_spi",
                      std::string("no ") + dir + " SA has SPI " + spi_text(p.sa_spi()));
        }
      } else if (p.sa_spi() != 0) {
        return fail(path + ".sa_spi",
                    std::string("must be 0 for ") +
                        (p.action() == v1::POLICY_ACTION_BYPASS ? "BYPASS" : "DISCARD") +
                        " (only PROTECT names an SA)");
      }
    }
    return Status::ok();
  }

  const v1::DataplaneConfig& c_;
  std::map<std::string, int> port_names_;
  std::map<IpAddress, Owner> addresses_;
  std::set<std::pair<int, uint32_t>> sa_spis_;  // (direction, SPI) of valid SAs
};

}  // namespace

Expected<v1::DataplaneConfig> parse_dataplane_config(std::string_view text, ConfigFormat format,
                                                     std::string_view source_name) {
  v1::DataplaneConfig config;
  if (auto s = parse_proto(text, format, source_name, config); !s) return s;
  return config;
}

Expected<v1::DataplaneConfig> load_dataplane_config(const std::string& path) {
  auto text = read_proto_file(path);
  if (!text) return text.status();
  return parse_dataplane_config(*text, proto_format_of(path), path);
}

Status validate_dataplane_config(const v1::DataplaneConfig& config) {
  return Validator(config).run();
}

v1::DataplaneConfig with_defaults(const v1::DataplaneConfig& config) {
  v1::DataplaneConfig c = config;
  auto fill = [](uint32_t value, uint32_t fallback) { return value != 0 ? value : fallback; };

  for (v1::Port& p : *c.mutable_ports()) {
    p.set_mtu(fill(p.mtu(), defaults::kMtu));
    p.set_rx_queues(fill(p.rx_queues(), defaults::kQueues));
    p.set_tx_queues(fill(p.tx_queues(), defaults::kQueues));
    p.set_rx_descriptors(fill(p.rx_descriptors(), defaults::kDescriptors));
    p.set_tx_descriptors(fill(p.tx_descriptors(), defaults::kDescriptors));
  }

  v1::PseudoTcp& pt = *c.mutable_pseudo_tcp();
  pt.set_handshake_timeout_ms(fill(pt.handshake_timeout_ms(), defaults::kHandshakeTimeoutMs));
  pt.set_syn_retransmit_ms(fill(pt.syn_retransmit_ms(), defaults::kSynRetransmitMs));
  pt.set_ike_grace_s(fill(pt.ike_grace_s(), defaults::kIkeGraceS));
  pt.set_close_delay_ms(fill(pt.close_delay_ms(), defaults::kCloseDelayMs));
  pt.set_max_connections(fill(pt.max_connections(), defaults::kMaxConnections));
  pt.set_max_sas_per_connection(fill(pt.max_sas_per_connection(), defaults::kMaxSasPerConnection));
  pt.set_hold_queue_packets(fill(pt.hold_queue_packets(), defaults::kHoldQueuePackets));
  v1::PortRange& range = *pt.mutable_local_port_range();
  if (range.min() == 0 && range.max() == 0) {
    range.set_min(defaults::kLocalPortMin);
    range.set_max(defaults::kLocalPortMax);
  }
  for (v1::TcpPeer& peer : *pt.mutable_peers()) {
    peer.set_remote_port(fill(peer.remote_port(), defaults::kRemotePort));
  }

  v1::Workers& w = *c.mutable_workers();
  w.set_count(fill(w.count(), defaults::kWorkerCount));
  w.set_burst_size(fill(w.burst_size(), defaults::kBurstSize));
  c.mutable_buffers()->set_mbufs(fill(c.buffers().mbufs(), defaults::kMbufs));

  for (v1::SecurityAssociation& sa : *c.mutable_sas()) {
    if (sa.direction() == v1::DIRECTION_INBOUND) {
      sa.set_replay_window(fill(sa.replay_window(), sad::kDefaultReplayWindow));
    }
    v1::Encapsulation& e = *sa.mutable_encapsulation();
    switch (e.kind_case()) {
      case v1::Encapsulation::KIND_NOT_SET:
        e.mutable_plain();  // plain ESP, now explicit
        break;
      case v1::Encapsulation::kUdp:
        e.mutable_udp()->set_local_port(fill(e.udp().local_port(), sad::kDefaultUdpEncapPort));
        e.mutable_udp()->set_peer_port(fill(e.udp().peer_port(), sad::kDefaultUdpEncapPort));
        break;
      case v1::Encapsulation::kPseudoTcp:
        e.mutable_pseudo_tcp()->set_peer_port(
            fill(e.pseudo_tcp().peer_port(), sad::kDefaultPseudoTcpPeerPort));
        break;
      case v1::Encapsulation::kPlain:
        break;
    }
  }
  return c;
}

Expected<v1::DataplaneConfig> load_validated_dataplane_config(const std::string& path) {
  auto config = load_dataplane_config(path);
  if (!config) return config;
  if (auto s = validate_dataplane_config(*config); !s) {
    return Status::error(path + ": " + s.message());
  }
  return with_defaults(*config);
}

}  // namespace tcpsec::config

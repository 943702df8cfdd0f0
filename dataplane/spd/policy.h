// Security policies as the dataplane holds them: a C++ mirror of ipsec.proto's
// Policy and TrafficSelector, converted once from the configuration (or a
// control-plane push) and then compiled into an Spd (dataplane/spd/spd.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "dataplane/net/ip_address.h"
#include "tcpsec/v1/config.pb.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::spd {

// Limits that config validation enforces (mirrors ipsec.proto).
inline constexpr uint32_t kMaxPolicies = 65536;
inline constexpr uint32_t kMaxSelectorPrefixes = 64;  // per prefix list

// "No policy matched": the result of a classification that found nothing.
inline constexpr uint32_t kNoPolicy = UINT32_MAX;

enum class Direction : uint8_t { kInbound = 0, kOutbound = 1 };
enum class Action : uint8_t { kDiscard = 0, kBypass = 1, kProtect = 2 };

const char* to_string(Direction d);
const char* to_string(Action a);

// An inclusive port range; [0, 65535] is "any".
struct PortRange {
  uint16_t min = 0;
  uint16_t max = 65535;

  bool is_any() const { return min == 0 && max == 65535; }
  bool contains(uint16_t port) const { return port >= min && port <= max; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// Which packets a policy (or an SA) applies to. "Local" is the protected
// side: the source of outbound packets and the destination of inbound ones.
struct Selector {
  // Empty: any address of either family. Prefixes have no host bits set.
  std::vector<net::IpPrefix> local;
  std::vector<net::IpPrefix> remote;
  uint8_t protocol = 0;  // 0: any
  // Apply to the transport ports of TCP, UDP and SCTP; other packets are
  // classified with ports 0 (see SpdKey4/SpdKey6).
  PortRange local_ports;
  PortRange remote_ports;

  // Whether a packet travelling in direction `d` matches. Linear in the
  // number of prefixes, no allocation: meant for an SA's own selector (a
  // handful of prefixes) on the inbound path. Ports are host order.
  bool matches(Direction d, const net::IpAddress& src, const net::IpAddress& dst, uint8_t proto,
               uint16_t src_port, uint16_t dst_port) const;
};

struct Policy {
  std::string name;       // may be empty
  uint32_t priority = 0;  // lower wins; ties go to the earlier policy
  Direction direction = Direction::kOutbound;
  Selector match;
  Action action = Action::kDiscard;
  uint32_t sa_spi = 0;  // PROTECT: the SA (outbound: to use, inbound: to require)
};

// Conversions from the configuration. They expect validated input
// (tcpsec::config::validate_dataplane_config) but never crash on any: what
// cannot be converted comes back as "policies[i].match.local_prefixes[j]:
// reason" (the same paths validation uses).
Expected<Selector> selector_from_proto(const v1::TrafficSelector& s);
Expected<Policy> policy_from_proto(const v1::Policy& p);
Expected<std::vector<Policy>> policies_from_config(const v1::DataplaneConfig& config);

}  // namespace tcpsec::spd

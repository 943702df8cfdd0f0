// Traffic selectors: configured prefixes <-> ike::TrafficSelector ranges,
// and narrowed ranges -> the dataplane's prefix-based v1::TrafficSelector.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "controlplane/message/payloads.h"
#include "controlplane/selectors/address.h"
#include "tcpsec/v1/ipsec.pb.h"

namespace tcpsec::selectors {

struct PortRange {
  uint16_t start = 0;
  uint16_t end = 65535;
  bool operator==(const PortRange&) const = default;
};

// "10.1.0.0/24" (or a bare address: one host) with a protocol (0: any) and
// ports (default any) -> a TS_IPV4_ADDR_RANGE / TS_IPV6_ADDR_RANGE.
Expected<ike::TrafficSelector> from_prefix(std::string_view prefix, uint8_t ip_protocol = 0,
                                           PortRange ports = {});
// Every prefix; the error names the index: "[1]: 'x' is not ...".
Expected<ike::Ts> from_prefixes(const std::vector<std::string>& prefixes, uint8_t ip_protocol = 0,
                                PortRange ports = {});

// The range's addresses, or an error for an unknown TS type, wrong address
// lengths, start > end, or start_port > end_port.
struct AddressRange {
  Address first;
  Address last;
};
Expected<AddressRange> address_range(const ike::TrafficSelector& ts);

// The smallest set of prefixes covering exactly [first, last], in order
// (10.0.0.1-10.0.0.6 -> 10.0.0.1/32 10.0.0.2/31 10.0.0.4/31 10.0.0.6/32).
// Empty when the families differ or first > last.
std::vector<Prefix> range_to_prefixes(const Address& first, const Address& last);
Expected<std::vector<Prefix>> range_to_prefixes(const ike::TrafficSelector& ts);

// For logs: "10.1.0.0/24", "10.0.0.1-10.0.0.6", with "[tcp/443]",
// "[17/500-501]" when protocol or ports are restricted.
std::string to_string(const ike::TrafficSelector& ts);
std::string to_string(const ike::Ts& ts);  // "10.1.0.0/24 192.0.2.1/32"

// The dataplane selectors for a Child SA whose local side is `local` (TSi
// for the initiator, TSr for the responder) and remote side `remote`:
// selectors are grouped by (family, protocol, ports) and each compatible
// (local group, remote group) pair becomes one v1::TrafficSelector with the
// minimal prefix sets. Errors: nothing compatible (no pair shares a family
// and protocol), or ports that the dataplane cannot express (ports other
// than "any" need protocol TCP, UDP or SCTP).
Expected<std::vector<v1::TrafficSelector>> to_dataplane(const ike::Ts& local,
                                                        const ike::Ts& remote);

}  // namespace tcpsec::selectors

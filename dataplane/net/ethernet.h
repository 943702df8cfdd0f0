// Ethernet II framing: MAC addresses, the 14-byte header, and the IPv6
// multicast mappings that neighbour discovery needs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "dataplane/net/ip_address.h"
#include "dataplane/stats/drop_reason.h"

namespace tcpsec::net {

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // "aa:bb:cc:dd:ee:ff" (either case); the error names the text.
  static Expected<MacAddress> parse(std::string_view text);
  static MacAddress from(const uint8_t* p) {
    MacAddress m;
    for (size_t i = 0; i < 6; ++i) m.bytes[i] = p[i];
    return m;
  }
  void store(uint8_t* p) const {
    for (size_t i = 0; i < 6; ++i) p[i] = bytes[i];
  }

  std::string to_string() const;  // lower case, colon separated
  bool is_broadcast() const {
    for (uint8_t b : bytes) {
      if (b != 0xff) return false;
    }
    return true;
  }
  bool is_multicast() const { return (bytes[0] & 0x01) != 0; }  // broadcast included
  bool is_zero() const {
    for (uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }

  static constexpr MacAddress broadcast() {
    return MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  }

  friend bool operator==(const MacAddress&, const MacAddress&) = default;
};

inline constexpr uint16_t kEthHeaderLen = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEthMinFrameLen = 60;  // without the FCS

// Writes destination, source and EtherType at p (14 bytes).
void write_eth_header(uint8_t* p, const MacAddress& dst, const MacAddress& src, uint16_t ethertype);

struct EthHeader {
  MacAddress dst;
  MacAddress src;
  uint16_t ethertype = 0;
};
// Reads the Ethernet header at the start of `frame` (no VLAN tags).
DropReason parse_eth_header(std::span<const uint8_t> frame, EthHeader& out);

// 33:33 followed by the low 32 bits of the IPv6 multicast group (RFC 2464).
MacAddress ipv6_multicast_mac(const IpAddress& group);
// ff02::1:ffXX:XXXX with the low 24 bits of `target` (RFC 4291 2.7.1).
IpAddress solicited_node_address(const IpAddress& target);

}  // namespace tcpsec::net

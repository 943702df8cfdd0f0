// A complete IPv4 or IPv6 UDP datagram written from its parts: how IKE
// messages from the control plane become packets (the control plane deals
// in IKE messages and addresses, never in IP headers).
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/net/ip_address.h"

namespace tcpsec::net {

struct UdpDatagramSpec {
  IpAddress source;
  IpAddress destination;  // same family as source
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  // RFC 3948 2.2: a 4-byte zero non-ESP marker before the payload (IKE on
  // port 4500).
  bool non_esp_marker = false;
  uint8_t ttl = 64;
};

// Writes IP header, UDP header (checksummed), marker and payload to `out`.
// Returns the datagram's length, or 0 when it does not fit in `out`, the
// families differ or exceed 65535 bytes.
uint16_t write_udp_datagram(std::span<uint8_t> out, const UdpDatagramSpec& spec,
                            std::span<const uint8_t> payload);

}  // namespace tcpsec::net

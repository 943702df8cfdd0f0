#include "dataplane/net/udp_datagram.h"

#include <cstring>

#include "dataplane/net/ip_packet.h"

namespace tcpsec::net {

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

uint16_t write_udp_datagram(std::span<uint8_t> out, const UdpDatagramSpec& spec,
                            std::span<const uint8_t> payload) {
  const bool v4 = spec.source.family == IpFamily::kV4;
  if (spec.source.family != spec.destination.family ||
      (!v4 && spec.source.family != IpFamily::kV6)) {
    return 0;
  }
  const size_t l3 = v4 ? kIpv4HeaderLen : kIpv6HeaderLen;
  const size_t marker = spec.non_esp_marker ? 4 : 0;
  const size_t l4 = 8 + marker + payload.size();
  if (l3 + l4 > 65535 || l3 + l4 > out.size()) return 0;
  uint8_t* ip = out.data();
  std::memset(ip, 0, l3 + 8 + marker);
  IpPacketInfo info;
  info.family = spec.source.family;
  info.l3_length = static_cast<uint16_t>(l3);
  info.packet_length = static_cast<uint16_t>(l3 + l4);
  info.proto = kProtoUdp;
  if (v4) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(l3 + l4));
    ip[8] = spec.ttl;
    ip[9] = kProtoUdp;
    std::memcpy(ip + 12, spec.source.bytes.data(), 4);
    std::memcpy(ip + 16, spec.destination.bytes.data(), 4);
    info.proto_offset = 9;
    set_ipv4_header_checksum(ip);
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint16_t>(l4));
    ip[6] = kProtoUdp;
    ip[7] = spec.ttl;
    std::memcpy(ip + 8, spec.source.bytes.data(), 16);
    std::memcpy(ip + 24, spec.destination.bytes.data(), 16);
    info.proto_offset = 6;
  }
  uint8_t* udp = ip + l3;
  put16(udp, spec.source_port);
  put16(udp + 2, spec.destination_port);
  put16(udp + 4, static_cast<uint16_t>(l4));
  if (!payload.empty()) std::memcpy(udp + 8 + marker, payload.data(), payload.size());
  uint16_t sum = l4_checksum(ip, info, kProtoUdp, {udp, l4}, true);
  put16(udp + 6, sum);
  return static_cast<uint16_t>(l3 + l4);
}

}  // namespace tcpsec::net
